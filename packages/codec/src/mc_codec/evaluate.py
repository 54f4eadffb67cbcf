"""Ideal code length: the model's cross-entropy of every token of an image, in bits.

`evaluate_split` is what `mc codec eval` runs: every image of one split, a CSV row per image.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np

from mc_codec.rows import ImageTokens, pad_rows
from mc_core.errors import BadInputError, UsageError

LN2 = math.log(2.0)
EVAL_COLUMNS = ["image", "height", "width", "tokens", "bits", "bits_per_pixel", "class_bits",
                "length_bits", "mantissa_bits"]


def image_bits(model, tok: ImageTokens, device="cpu", max_rows: int = 4096) -> dict:
    """{'bits', 'class_bits', 'length_bits', 'mantissa_bits', 'tokens', 'pixels'} for one image
    (`model` implements :class:`mc_codec.interface.CodecModel`)."""
    import torch

    rows = list(tok.rows())
    cls_nats = len_nats = 0.0
    with torch.inference_mode():
        for s in range(0, len(rows), max_rows):
            feats, cls, lsym = (t.to(device) for t in pad_rows(rows[s:s + max_rows]))
            c, ln = model.token_nats(feats, cls, lsym)
            cls_nats += float(c.sum())
            len_nats += float(ln.sum())
    mant = float(np.asarray(tok.mant_bits, np.int64).sum())
    bits = (cls_nats + len_nats) / LN2 + mant
    return {"bits": bits, "class_bits": cls_nats / LN2, "length_bits": len_nats / LN2,
            "mantissa_bits": mant, "tokens": tok.num_tokens, "pixels": tok.height * tok.width}


def split_bits(model, source, indices, device="cpu", progress=None) -> tuple[float, int]:
    """(total bits, total pixels) over images `indices` of `source`."""
    bits = 0.0
    pixels = 0
    it = progress(indices) if progress else indices
    for i in it:
        r = image_bits(model, source.tokens(int(i)), device)
        bits += r["bits"]
        pixels += r["pixels"]
    return bits, pixels


def evaluate_split(data_root: str | os.PathLike, checkpoint: str | os.PathLike | None, *,
                   splits_dir: str | os.PathLike, split: str = "val", subdir: str | None = None,
                   out_csv: str | os.PathLike | None = None,
                   row_cache_dir: str | os.PathLike | None = None, device: str = "auto",
                   progress=None) -> dict:
    """The ideal code length of every image of `split` under the model in `checkpoint`.

    Writes one CSV row per image (:data:`EVAL_COLUMNS`) to `out_csv` when given and returns
    ``{"split", "images", "pixels", "bits", "bits_per_pixel", "seconds", "rows"}``. An image
    with a class id beyond the model's vocabulary is bad input naming that image.
    """
    import torch

    from mc_codec.coding.api import checkpoint_files, load_model
    from mc_codec.data.masks import folder_of, split_files, splits_for
    from mc_codec.rows import token_source
    from mc_core.atomic import write_csv
    from mc_core.device import resolve_device
    from mc_core.paths import check_outputs

    if split not in ("train", "val", "test"):
        raise UsageError(f"split must be train, val or test, got {split!r}")
    folder = folder_of(data_root, subdir)
    cm = load_model(checkpoint)
    dev = resolve_device(device)
    splits = splits_for(data_root, subdir, splits_dir)
    rel = splits[split]
    if not rel:
        raise BadInputError(Path(splits_dir) / f"{split}.txt", "split is empty")
    check_outputs([*(folder / r for r in rel), *checkpoint_files(cm.path), *split_files(splits_dir),
                   row_cache_dir], [out_csv])
    model = cm.model.to(dev) if hasattr(cm.model, "to") else cm.model
    src = token_source(folder, rel, cm.use_2d, row_cache_dir)
    rows = []
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        it = range(len(src))
        for i in (progress(it) if progress else it):
            tok = src.tokens(i)
            if tok.max_id >= cm.vocab_size:
                raise BadInputError(folder / rel[i], f"class id {tok.max_id} is beyond the model's "
                                                     f"vocabulary ({cm.vocab_size})")
            r = image_bits(model, tok, dev)
            rows.append({"image": rel[i], "height": tok.height, "width": tok.width, "tokens": r["tokens"],
                         "bits": r["bits"], "bits_per_pixel": r["bits"] / r["pixels"],
                         "class_bits": r["class_bits"], "length_bits": r["length_bits"],
                         "mantissa_bits": r["mantissa_bits"]})
    finally:
        torch.set_num_threads(threads)
        if hasattr(cm.model, "to"):
            cm.model.to("cpu")
    dt = time.perf_counter() - t0
    if out_csv is not None:
        write_csv(out_csv, rows, EVAL_COLUMNS)
    pix = sum(r["height"] * r["width"] for r in rows)
    bits = sum(r["bits"] for r in rows)
    return {"split": split, "images": len(rows), "pixels": pix, "bits": bits,
            "bits_per_pixel": bits / pix, "seconds": dt, "rows": rows}
