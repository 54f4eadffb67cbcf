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
    "registries",
]


def registries():
    """The datasets, models and metrics registries filled by every installed plugin.

    >>> import mc_core
    >>> model = mc_core.registries().models.create("rle-lm")  # doctest: +SKIP
    """
    from mc_core.plugins import get_manager

    return get_manager().registries
