"""`mc landcover ...` commands. Heavy libraries are imported inside command bodies.

Commands live in two modules so that they can grow independently: `cli_model` (prepare, train,
generate) and `cli_analysis` (inpainting evaluation, perplexity, Gibbs chains, information
content, plots).
"""

from mc_core.cli import plugin_group
from mc_landcover.cli_analysis import COMMANDS as _ANALYSIS_COMMANDS
from mc_landcover.cli_model import COMMANDS as _MODEL_COMMANDS

group = plugin_group(
    "landcover",
    help="Random-order autoregressive models of land-cover maps (RandAR on NLCD).",
)
for _cmd in [*_MODEL_COMMANDS, *_ANALYSIS_COMMANDS]:
    group.add_command(_cmd)
