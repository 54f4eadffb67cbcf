"""`mc loci ...` commands. Heavy libraries are imported inside command bodies."""

from mc_core.cli import plugin_group

group = plugin_group("loci", help="Object-centric segmentation of videos (Loci-Segmented).")
