"""Data sets of the loci plugin."""
