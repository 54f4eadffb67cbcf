"""A scripted synthetic tabletop scene that stands in for RLBench demos with segmentation."""
