"""`python -m mc_core ...` is `mc ...` (also: `accelerate launch -m mc_core codec train ...`)."""

from mc_core.cli import main

main()
