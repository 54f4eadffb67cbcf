"""Inpainting of land-cover maps: masks, classical baselines (mode, nearest, Potts MRF) and evaluation."""
