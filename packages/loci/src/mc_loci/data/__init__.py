"""Data sets of the loci plugin: the moving-shapes folder (:mod:`.moving_shapes`) and
Loci-Segmented's HDF5 files (:mod:`.loci_hdf5`); :func:`open_data` opens either."""

from __future__ import annotations

import os
from typing import Any


def open_data(path: str | os.PathLike, *, size: int | None = None) -> Any:
    """The data set at `path`: a Loci-Segmented HDF5 file (:class:`~.loci_hdf5.LociHDF5`, frames resized
    to `size`) or a moving-shapes folder (:class:`~.moving_shapes.MovingShapes`; `size` must be None or
    its size). Both offer ``len``, ``ds[i]`` (a video), ``arrays()``, ``frames``, ``size``, ``paths``,
    ``video_names`` and ``input_files``."""
    from mc_core import registries
    from mc_core.errors import BadInputError
    from mc_loci.data.loci_hdf5 import is_hdf5

    datasets = registries().datasets  # the registered data sets: loci-hdf5, moving-shapes
    if is_hdf5(path):
        return datasets.create("loci-hdf5", path=path, size=size)
    ds = datasets.create("moving-shapes", root=path)
    if size is not None and int(size) != ds.size:
        raise BadInputError(ds.root, f"frames are {ds.size}x{ds.size}, {size}x{size} asked (only HDF5 files are "
                                     "resized)")
    return ds


def trained_size(checkpoint: str | os.PathLike | None) -> int | None:
    """The frame side a checkpoint's model was trained on (its ``meta.size``), or None when unknown
    (no checkpoint, or a config.json that does not say; the model loader reports damaged ones)."""
    import json
    from pathlib import Path

    if checkpoint is None:
        return None
    try:
        meta = json.loads((Path(checkpoint) / "config.json").read_text(encoding="utf-8")).get("meta", {})
        size = meta.get("size") if isinstance(meta, dict) else None
    except (OSError, ValueError, AttributeError):
        return None
    return size if isinstance(size, int) and not isinstance(size, bool) and 16 <= size <= 4096 else None


def open_eval_data(path: str | os.PathLike, *, size: int | None, checkpoint: str | os.PathLike | None) -> Any:
    """:func:`open_data` for scoring or segmenting with a model: an HDF5 file's frames are resized to
    `size`, or by default to the side `checkpoint`'s model was trained on (:func:`trained_size`)."""
    from mc_loci.data.loci_hdf5 import is_hdf5

    if size is None and is_hdf5(path):
        size = trained_size(checkpoint)
    return open_data(path, size=size)
