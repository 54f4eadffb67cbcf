"""`mc landcover ...` commands. Heavy libraries are imported inside command bodies."""

from mc_core.cli import plugin_group

group = plugin_group("landcover", help="Random-order autoregressive models of land-cover maps (RandAR on NLCD).")
