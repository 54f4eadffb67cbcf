"""The `mc loci` command group, assembled from the command modules (each lists its COMMANDS)."""

from __future__ import annotations

from mc_core.cli import plugin_group
from mc_loci import cli_data, cli_eval, cli_pipeline, cli_stages, cli_train

group = plugin_group("loci", help="Object-centric segmentation of videos (Loci-Segmented).",
                     commands=[*cli_data.COMMANDS, *cli_train.COMMANDS, *cli_stages.COMMANDS,
                               *cli_pipeline.COMMANDS, *cli_eval.COMMANDS])
