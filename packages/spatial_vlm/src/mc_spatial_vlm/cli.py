"""The `mc spatial-vlm` command group, assembled from the command modules (heavy imports stay in
the command bodies)."""

from __future__ import annotations

from mc_core.cli import plugin_group
from mc_spatial_vlm import cli_data, cli_eval, cli_sft

group = plugin_group("spatial-vlm", help="Multi-view spatial grounding tasks and evaluation for VLMs.",
                     commands=[*cli_data.COMMANDS, *cli_eval.COMMANDS, *cli_sft.COMMANDS])
