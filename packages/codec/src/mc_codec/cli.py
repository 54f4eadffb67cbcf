"""`mc codec ...`: the command group, assembled from the command modules (each a `COMMANDS`
list): `cli_train` (cache, train, eval), `cli_coding` (compress, decompress), `cli_matrix`
(matrix) and `cli_tools` (prepare-a2d2, info). Heavy libraries load inside command bodies."""

from mc_codec import cli_coding, cli_matrix, cli_tools, cli_train
from mc_core.cli import plugin_group

group = plugin_group(
    "codec", help="Lossless mask compression with learned entropy models (MasksComp).",
    commands=[*cli_train.COMMANDS, *cli_coding.COMMANDS, *cli_matrix.COMMANDS, *cli_tools.COMMANDS],
)
