"""An out-of-tree mc plugin used by the tests and shown in the README."""
