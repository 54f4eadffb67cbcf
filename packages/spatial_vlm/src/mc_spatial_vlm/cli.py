"""`mc spatial-vlm ...` commands. Heavy libraries are imported inside command bodies."""

from mc_core.cli import plugin_group

group = plugin_group("spatial-vlm", help="Multi-view spatial grounding tasks and evaluation for VLMs.")
