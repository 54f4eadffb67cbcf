"""Codec data tools: prepare-a2d2 and friends."""

COMMANDS: list = []
