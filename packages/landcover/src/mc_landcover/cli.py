"""The `mc landcover` command group, assembled from the command modules (one concern each):
`cli_model` (prepare, prepare-merge, import-npz, train, generate, generate-wide), `cli_inpaint`
(eval-inpaint, inpaint-sweep, plot-inpaint), `cli_likelihood` (eval-perplexity, sample-chain),
`cli_information` (compare-information, zip-info-content) and `cli_viz` (viz-embed, prob-dev).
Heavy libraries are imported inside command bodies; command modules never import this one."""

from mc_core.cli import plugin_group
from mc_landcover import cli_information, cli_inpaint, cli_likelihood, cli_model, cli_viz

group = plugin_group(
    "landcover",
    help="Random-order autoregressive models of land-cover maps (RandAR on NLCD).",
    commands=[*cli_model.COMMANDS, *cli_inpaint.COMMANDS, *cli_likelihood.COMMANDS,
              *cli_information.COMMANDS, *cli_viz.COMMANDS],
)
