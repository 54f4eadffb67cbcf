"""Land-cover commands: prepare, train, generate."""

COMMANDS: list = []
