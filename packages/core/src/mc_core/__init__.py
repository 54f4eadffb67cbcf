"""mc-core: registries, the plugin system and the `mc` command line.

Importing this package is cheap: it never imports torch, transformers or rasterio.
"""

from importlib.metadata import PackageNotFoundError, version

from mc_core.errors import BadInputError, McError, UsageError
from mc_core.registry import Entry, Registry

try:
    __version__ = version("mc-core")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "BadInputError",
    "Entry",
    "McError",
    "Registry",
    "UsageError",
    "__version__",
    "datasets",
    "models",
    "metrics",
]


def __getattr__(name: str):
    # `mc_core.datasets` / `.models` / `.metrics` are the registries filled by all plugins.
    if name in ("datasets", "models", "metrics"):
        from mc_core.plugins import get_manager

        return getattr(get_manager().registries, name)
    raise AttributeError(f"module 'mc_core' has no attribute {name!r}")
