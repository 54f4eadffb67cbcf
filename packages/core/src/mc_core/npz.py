"""Open `.npz` archives with one-line errors that say what is wrong with the file.

`np.load` reports a non-archive in confusing ways: an empty file raises EOFError (which click
would turn into "aborted"), and any other non-zip bytes are taken for a pickle and refused with a
message about pickled data. `open_npz` checks the file first and names the actual problem.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from mc_core.errors import BadInputError

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with entries, an empty zip


def open_npz(path: str | os.PathLike, what: str = "npz file"):
    """`np.load(path, allow_pickle=False)` of an npz archive (use it as a context manager).

    Raises BadInputError naming `path` when it is missing, a folder, empty, not a zip archive, a
    single `.npy` array, or unreadable.
    """
    import numpy as np

    path = Path(path)
    if not path.exists():
        raise BadInputError(path, f"{what} not found")
    if path.is_dir():
        raise BadInputError(path, f"is a folder ({what} expected)")
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as exc:
        raise BadInputError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise BadInputError(path, f"is empty ({what} expected)")
    if head.startswith(b"\x93NUMPY"):
        raise BadInputError(path, f"is a single .npy array ({what} expected, as written by np.savez)")
    if head[:4] not in _ZIP_MAGICS:
        raise BadInputError(path, f"is not a zip archive ({what} expected)")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise BadInputError(path, f"damaged {what} ({exc})") from None
