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
    from mc_core.errors import BadInputError
    from mc_loci.data.loci_hdf5 import LociHDF5, is_hdf5
    from mc_loci.data.moving_shapes import MovingShapes

    if is_hdf5(path):
        return LociHDF5(path, size=size)
    ds = MovingShapes(path)
    if size is not None and int(size) != ds.size:
        raise BadInputError(ds.root, f"frames are {ds.size}x{ds.size}, {size}x{size} asked (only HDF5 files are "
                                     "resized)")
    return ds
