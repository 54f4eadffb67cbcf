"""Land-cover analysis commands: eval-inpaint, inpaint-sweep, plot-inpaint, eval-perplexity, sample-chain, ..."""

COMMANDS: list = []
