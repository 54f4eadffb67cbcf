"""mc-core test fixtures live in tests/conftest.py (shared with every package's tests)."""
