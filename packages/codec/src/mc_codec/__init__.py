"""Lossless mask compression with learned entropy models (MasksComp)."""
