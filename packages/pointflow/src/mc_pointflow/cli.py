"""`mc pointflow ...` commands. Heavy libraries are imported inside command bodies."""

from mc_core.cli import plugin_group

group = plugin_group("pointflow", help="Zarr replay buffers, 3D attention masks and flow-matching policies.")
