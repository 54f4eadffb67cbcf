"""Models of the loci plugin."""
