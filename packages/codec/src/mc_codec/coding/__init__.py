"""Lossless coding of label maps with a learned model and a range coder (constriction)."""
