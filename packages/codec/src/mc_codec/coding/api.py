"""`encode(mask, model=...) -> bytes` and `decode(bytes) -> mask`: the learned codec end to end.

A file is codec-B's `.mcz` container (see container.py) with payload kind 16 ("learned"): the
header holds shape, dtype, the class-id table, the first 8 bytes of the SHA-256 of the model's
`model.safetensors`, and the CRC-32 of the mask; the payload is :mod:`mc_codec.coding.coder`'s.

Class ids and the model vocabulary: ids below the model's `vocab_size` are coded as themselves.
Escape path: if a mask holds an id >= vocab_size but no more distinct ids than the vocabulary, its
ids are coded by their rank in the header's class table (lossless, but the model's class
statistics no longer apply, so it compresses less well); with more distinct ids than the
vocabulary, encoding is refused with a clear error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mc_codec.tokens import DEFAULT_BAND_HEIGHT, MAX_WIDTH
from mc_core.errors import BadInputError

LEARNED_KIND = 16
_CACHE: dict[str, LoadedCodec] = {}


@dataclass
class LoadedCodec:
    """A codec model loaded from a checkpoint, with what the file format needs about it."""

    model: object          # implements mc_codec.interface.CodecModel; eval mode, CPU
    name: str              # its registry name
    digest: bytes          # SHA-256 of model.safetensors (files store a prefix)
    path: Path
    config: dict           # the checkpoint's config (the model's under "model")

    @property
    def vocab_size(self) -> int:
        return int(self.model.vocab_size)

    @property
    def use_2d(self) -> bool:
        return bool(self.model.use_2d)


def default_checkpoint() -> Path:
    """The small model shipped inside the package (trained on the shipped samples)."""
    return Path(__file__).resolve().parent.parent / "default_model"


def resolve_checkpoint(checkpoint: str | os.PathLike | None) -> Path:
    """The checkpoint folder: the shipped default model for None; the seed's spelling
    ``.../checkpoints/best.pt`` means the folder ``.../checkpoints/best``."""
    if checkpoint is None:
        return default_checkpoint()
    path = Path(checkpoint)
    if path.suffix == ".pt" and not path.exists() and path.with_suffix("").is_dir():
        return path.with_suffix("")
    return path


def checkpoint_files(path: str | os.PathLike) -> list[Path]:
    """The files of a checkpoint folder (inputs a command must not overwrite)."""
    path = Path(path)
    return sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]


def check_finite_weights(state_dict, path) -> None:
    """Bad input naming the weights file when a floating tensor holds NaN or infinity."""
    import torch

    bad = [k for k, t in state_dict.items()
           if hasattr(t, "is_floating_point") and t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise BadInputError(path, f"weights hold NaN or infinite values ({', '.join(sorted(bad)[:3])}"
                                  f"{', ...' if len(bad) > 3 else ''})")


def load_model(checkpoint: str | os.PathLike | None = None) -> LoadedCodec:
    """Load (and cache) a codec checkpoint through the model registry (`mc_core.factory`, task
    "codec", checked against :class:`mc_codec.interface.CodecModel`); the shipped default model
    when `checkpoint` is None."""
    from mc_codec.container import digest_file
    from mc_codec.interface import CodecModel
    from mc_core.checkpoint import WEIGHTS_FILE
    from mc_core.factory import load_model_and_checkpoint

    path = resolve_checkpoint(checkpoint)
    weights = path / WEIGHTS_FILE
    key = f"{path.resolve()}@{weights.stat().st_mtime_ns if weights.is_file() else 0}"  # rewritten: reload
    if key in _CACHE:
        return _CACHE[key]
    model, ck = load_model_and_checkpoint(path, task="codec", protocol=CodecModel, device="cpu")
    check_finite_weights(ck.state_dict, ck.path / WEIGHTS_FILE)
    from mc_codec.coding.stepper import make_stepper

    try:  # the built-in models fold their weights into fixed point here (cached for coding)
        make_stepper(model)
    except ValueError as exc:  # e.g. weights too large for the fixed-point range
        raise BadInputError(ck.path / WEIGHTS_FILE, f"model {ck.model!r}: {exc}") from None
    loaded = LoadedCodec(model, ck.model, digest_file(ck.path / WEIGHTS_FILE), ck.path, ck.config)
    _CACHE[key] = loaded
    return loaded


def as_codec(model) -> LoadedCodec:
    """A LoadedCodec from a LoadedCodec, a checkpoint path or None (the shipped default)."""
    if isinstance(model, LoadedCodec):
        return model
    return load_model(model)


_as_model = as_codec


def _symbol_map(classes: tuple[int, ...], vocab: int, source) -> np.ndarray | None:
    """None for identity coding, else the ascending class table (ids coded by rank)."""
    if not classes or max(classes) < vocab:
        return None
    if len(classes) > vocab:
        raise BadInputError(source, f"mask has {len(classes)} distinct class ids, more than the model's "
                                    f"vocabulary of {vocab}: use a model with a larger vocabulary (vocab_size)")
    return np.asarray(classes, dtype=np.int64)


def encode_with_stats(mask: np.ndarray, model=None, *, band_height: int = DEFAULT_BAND_HEIGHT,
                      source: str | os.PathLike | None = None) -> tuple[bytes, float]:
    """(file bytes, the quantised model's ideal payload bits)."""
    from mc_codec.coding.coder import encode_ids
    from mc_codec.container import Header, pack

    cm = _as_model(model)
    src = source if source is not None else "<mask>"
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise BadInputError(src, f"expected a non-empty 2-D mask, got shape {mask.shape}")
    if mask.dtype.name not in ("uint8", "uint16"):
        if mask.dtype.kind not in "iu" or (mask.size and (mask.min() < 0 or mask.max() > 65535)):
            raise BadInputError(src, f"expected uint8/uint16 class ids, got {mask.dtype}")
        mask = mask.astype(np.uint16 if mask.max() > 255 else np.uint8)
    if mask.shape[1] > MAX_WIDTH:
        raise BadInputError(src, f"mask width {mask.shape[1]} exceeds the coder's limit {MAX_WIDTH}")
    header = Header.for_mask(mask, kind=LEARNED_KIND, model_digest=cm.digest)
    table = _symbol_map(header.classes, cm.vocab_size, src)
    ids = mask.astype(np.int64) if table is None else np.searchsorted(table, mask.astype(np.int64))
    from mc_codec.coding.stepper import ModelFault

    try:
        payload, bits = encode_ids(cm.model, ids, band_height)
    except ModelFault as exc:
        raise BadInputError(cm.path, f"model {cm.name!r}: {exc}") from None
    return pack(header, payload), bits


def encode(mask: np.ndarray, model=None, *, band_height: int = DEFAULT_BAND_HEIGHT) -> bytes:
    """Losslessly code a (H, W) uint8/uint16 mask into `.mcz` bytes with a learned model
    (a LoadedCodec, a checkpoint path, or None for the shipped default model)."""
    return encode_with_stats(mask, model, band_height=band_height)[0]


def decode(data: bytes, model=None, *, source: str | os.PathLike | None = None,
           max_decode_bytes: int | None = None) -> np.ndarray:
    """Inverse of :func:`encode`. Any problem (wrong model, truncated or corrupt data, newer
    format, a shape needing more than `max_decode_bytes` of memory: default 1 GiB or
    ``MC_CODEC_MAX_DECODE_MB``) is a BadInputError naming `source`; a wrong mask is never returned."""
    from mc_codec.coding.coder import CorruptPayload, DecodeTooLarge, decode_ids
    from mc_codec.coding.stepper import ModelFault
    from mc_codec.container import check_crc, check_model, unpack

    src = source if source is not None else "<bytes>"
    header, payload = unpack(bytes(data), source=src)
    if header.kind != LEARNED_KIND:
        raise BadInputError(src, f"payload kind {header.kind_name!r} is not the learned codec")
    cm = _as_model(model)
    check_model(header, cm.digest, src)
    h, w = header.shape
    if h == 0 or w == 0 or w > MAX_WIDTH:
        raise BadInputError(src, f"corrupt header: shape {header.shape}")
    table = _symbol_map(header.classes, cm.vocab_size, src)
    try:
        ids = decode_ids(cm.model, payload, h, w, header.version, max_bytes=max_decode_bytes)
    except DecodeTooLarge as exc:
        raise BadInputError(src, str(exc)) from None
    except ModelFault as exc:
        raise BadInputError(cm.path, f"model {cm.name!r}: {exc}") from None
    except CorruptPayload as exc:
        raise BadInputError(src, f"corrupt payload ({exc})") from None
    except (ValueError, RuntimeError, OverflowError, AssertionError) as exc:  # constriction on garbage
        raise BadInputError(src, f"corrupt payload ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    if table is not None:
        if ids.max() >= len(table):
            raise BadInputError(src, "corrupt payload (class outside the class table)")
        ids = table[ids]
    elif header.classes and ids.max() > max(header.classes):
        raise BadInputError(src, "corrupt payload (class outside the class table)")
    mask = ids.astype(header.dtype)
    check_crc(header, mask, src)
    return mask
