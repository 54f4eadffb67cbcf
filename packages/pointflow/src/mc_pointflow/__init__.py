"""Zarr replay buffers, 3D attention masks and flow-matching policies."""
