"""Codec commands: data, cache, train, eval, compress/decompress and the codec matrix."""

COMMANDS: list = []
