"""`mc codec ...` commands. Heavy libraries are imported inside command bodies.

Commands live in two modules so that they can grow independently:
`cli_model` (data, cache, training, ideal-bits evaluation, coding and the matrix) and
`cli_tools` (A2D2 conversion and other data tools).
"""

from mc_codec.cli_model import COMMANDS as _MODEL_COMMANDS
from mc_codec.cli_tools import COMMANDS as _TOOL_COMMANDS
from mc_core.cli import plugin_group

group = plugin_group(
    "codec", help="Lossless mask compression with learned entropy models (MasksComp)."
)
for _cmd in [*_MODEL_COMMANDS, *_TOOL_COMMANDS]:
    group.add_command(_cmd)
