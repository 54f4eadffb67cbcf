"""mc-core: registries, the plugin system and the `mc` command line.

Importing this package is cheap: it never imports torch, transformers or rasterio.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from mc_core.errors import BadInputError, McError, UsageError
from mc_core.factory import check_interface, create_model, load_model
from mc_core.registry import Entry, Registry

if TYPE_CHECKING:
    from mc_core.plugins import Registries

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
    "check_interface",
    "create_model",
    "load_model",
    "registries",
]


def registries() -> "Registries":
    """The datasets, models and metrics registries filled by every installed plugin.

    >>> import mc_core
    >>> model = mc_core.registries().models.create("rle-lm")  # doctest: +SKIP
    """
    from mc_core.plugins import get_manager

    return get_manager().registries
