"""Replay buffers and datasets of the pointflow plugin."""
