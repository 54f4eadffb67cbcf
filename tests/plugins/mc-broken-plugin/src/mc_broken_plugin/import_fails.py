"""A plugin module whose import fails, as when a dependency is missing."""

import mc_this_dependency_is_not_installed  # noqa: F401
