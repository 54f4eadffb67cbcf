"""`mc pointflow ...`: the command group, assembled from the command modules (which never import
this one). Heavy libraries are imported inside command bodies."""

from __future__ import annotations

from mc_core.cli import plugin_group
from mc_pointflow import cli_data, cli_policy, cli_scripts

group = plugin_group("pointflow", help="Zarr replay buffers, 3D attention masks and flow-matching policies.",
                     commands=[*cli_data.COMMANDS, *cli_policy.COMMANDS, *cli_scripts.COMMANDS])
