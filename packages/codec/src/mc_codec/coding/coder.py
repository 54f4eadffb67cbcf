"""The entropy coder: run tokens coded with a queue range coder (constriction), driven by the model.

How encoder and decoder stay bit-exact:

* Both run the *same* loop (:func:`_run`): rows are grouped in bands of ``band_height`` rows; the
  bands are coded in lock-step, one token of every band per step, so a step is one batched model
  call (K bands) instead of K calls. A band's first row sees no row above (tokens.py), which is
  what makes the bands independent.
* The model runs on arrays of identical shapes in the encoder and the decoder: `rle-lm` and
  `msdzip` in fixed-point integer arithmetic (stepper.py, identical on every machine by
  construction), any other model through torch in float32 with one thread.
* Its probabilities become integer frequencies ``1 + floor(p * (2**16 - n))`` for an alphabet of
  n symbols (so no symbol has zero probability). These integers (exact in float32) are what
  constriction's ``Categorical(perfect=False)`` sees.
* Mantissa bits of long runs are coded with constriction's ``Uniform`` model.

Decoding does bounded work: every step advances a row by at least one pixel or fails, so a
corrupt payload ends in a clear error after at most H*W steps; the container's CRC catches the rest.
"""

from __future__ import annotations

import contextlib
import struct

import numpy as np

from mc_codec.coding.stepper import make_stepper
from mc_codec.tokens import (
    DEFAULT_BAND_HEIGHT,
    NEAR,
    NONE,
    NUM_FEATURES,
    NUM_NEAR,
    length_symbols,
    log2_bucket,
    row_runs,
)

_HEAD_V1 = struct.Struct("<BHI")  # container version 1: payload version, band height, word count


class CorruptPayload(ValueError):
    """The payload does not decode to a valid mask with this model."""


class DecodeTooLarge(ValueError):
    """Decoding the claimed shape would need more memory than allowed."""


DEFAULT_MAX_DECODE_BYTES = 1 << 30   # 1 GiB; MC_CODEC_MAX_DECODE_MB or max_decode_bytes= overrides


def decode_bytes_needed(height: int, width: int, band_height: int) -> int:
    """Bytes the decoder allocates for a (height, width) mask coded in bands of `band_height`:
    the int32 id image, a copy in the class-table/dtype mapping (at most 10 bytes a pixel) and
    the 4 int64 row-above entries per pixel of every band."""
    bands = -(-int(height) // max(1, int(band_height)))
    return 14 * int(height) * int(width) + 32 * bands * int(width)


def max_decode_bytes(value: int | None = None) -> int:
    """The memory limit of one decode: `value`, else ``MC_CODEC_MAX_DECODE_MB`` (MiB), else 1 GiB."""
    import os

    if value is not None:
        return int(value)
    env = os.environ.get("MC_CODEC_MAX_DECODE_MB", "").strip()
    if env:
        try:
            return int(float(env) * (1 << 20))
        except ValueError:
            raise ValueError(f"MC_CODEC_MAX_DECODE_MB must be a number of MiB, got {env!r}") from None
    return DEFAULT_MAX_DECODE_BYTES


@contextlib.contextmanager
def coding_mode():
    """One torch thread and no autograd while coding; restores the caller's thread count.

    (`torch.use_deterministic_algorithms` is not needed: it concerns CUDA kernels and atomics,
    and the CPU ops used here are deterministic for fixed shapes on one thread. Turning it on
    would also import torch._inductor, seconds of start-up per process.)"""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(threads)


def _bits_of(freqs: np.ndarray, syms: np.ndarray) -> float:
    f = freqs.astype(np.float64)
    return float(-np.log2(f[np.arange(len(syms)), syms] / f.sum(axis=1)).sum())


def _run(model, height: int, width: int, band_height: int, mask: np.ndarray | None, coder):
    """The shared encode/decode loop. With `mask` it encodes into `coder` (a RangeEncoder) and
    returns (mask, ideal_bits); without, it decodes from `coder` (a RangeDecoder)."""
    import constriction

    cat = constriction.stream.model.Categorical(perfect=False)
    uni = constriction.stream.model.Uniform()
    encoding = mask is not None
    use_2d = bool(getattr(model, "use_2d", True))
    bh = band_height
    k = (height + bh - 1) // bh
    out = mask if encoding else np.zeros((height, width), dtype=np.int32)
    row = np.arange(k) * bh
    end = np.minimum(row + bh, height)
    x = np.zeros(k, np.int64)
    prev_cls = np.full(k, NONE, np.int64)
    prev_len = np.full(k, NONE, np.int64)
    active = np.ones(k, bool)
    # per band and position x of the row above: class above x, class after the next transition
    # right of x, where that transition is (width: none), "a run starts above x"; rows without a
    # row above (a band's first) see NONE, NONE, width, 0
    above = np.empty((k, width, 4), np.int64)
    above[:] = (NONE, NONE, width, 0)
    kk = np.arange(k)
    lb = log2_bucket(np.arange(width + 1))
    stepper = make_stepper(model)
    state = stepper.init_state(k)
    bits = 0.0
    max_steps = height * width + k
    steps = 0
    # the encoder's runs per band, walked in order
    if encoding:
        runs = [[row_runs(out[r]) for r in range(row[b], end[b])] for b in range(k)]
        run_i = np.zeros(k, np.int64)

    while active.any():
        steps += 1
        if steps > max_steps:
            raise CorruptPayload("payload does not terminate")
        a = np.flatnonzero(active)
        feats = np.zeros((k, NUM_FEATURES), np.int64)
        feats[:, 0] = prev_cls
        feats[:, 1] = prev_len
        feats[:, 2:4] = NONE
        if use_2d:
            ab = above[kk, np.minimum(x, width - 1)]
            d_above = ab[:, 2] - x
            feats[:, 2:4] = ab[:, :2]
            feats[:, 4] = lb[d_above]
            feats[:, 5] = ab[:, 3]
            feats[:, 6:8] = (prev_cls[:, None] == ab[:, :2]) & (ab[:, :2] != NONE)
        else:
            d_above = width - x
        feats[:, 8] = lb[width - x]
        ctx, new_state = stepper.context(state, feats)
        cls_freq = stepper.class_freqs(ctx)[a]
        if encoding:
            cur = [runs[b][row[b] - b * bh] for b in a]
            cls = np.array([c[1][run_i[b]] for c, b in zip(cur, a)], np.int64)
            lens = np.array([c[2][run_i[b]] for c, b in zip(cur, a)], np.int64)
            coder.encode(cls.astype(np.int32), cat, cls_freq)
            bits += _bits_of(cls_freq, cls)
        else:
            cls = np.asarray(coder.decode(cat, cls_freq), np.int64)
            if (cls == prev_cls[a]).any():
                raise CorruptPayload("two neighbouring runs share a class")
        cls_full = np.zeros(k, np.int64)
        cls_full[a] = cls
        len_freq = stepper.length_freqs(ctx, cls_full)[a]
        if encoding:
            syms, mbits, mant = length_symbols(lens, d_above[a])
            coder.encode(syms.astype(np.int32), cat, len_freq)
            bits += _bits_of(len_freq, syms)
            m = mbits > 0
            if m.any():
                coder.encode(mant[m].astype(np.int32), uni, (1 << mbits[m]).astype(np.int32))
                bits += float(mbits[m].sum())
        else:
            syms = np.asarray(coder.decode(cat, len_freq), np.int64)
            near = syms < NUM_NEAR
            mbits = np.where(near, 0, syms - NUM_NEAR)
            mant = np.zeros(len(a), np.int64)
            m = mbits > 0
            if m.any():
                mant[m] = coder.decode(uni, (1 << mbits[m]).astype(np.int32))
            lens = np.where(near, d_above[a] + syms - NEAR, (1 << mbits) + mant)
            if (lens < 1).any() or (lens > width - x[a]).any():
                raise CorruptPayload("a run does not fit its row")
            for b, c, ln in zip(a, cls, lens):
                out[row[b], x[b]:x[b] + ln] = c
        # advance
        state[a] = new_state[a]
        x[a] += lens
        prev_cls[a] = cls
        prev_len[a] = syms
        if encoding:
            run_i[a] += 1
        done = a[x[a] == width]
        for b in done:
            if use_2d:
                _set_above(out[row[b]], above[b])
            row[b] += 1
            x[b] = 0
            prev_cls[b] = NONE
            prev_len[b] = NONE
            state[b] = 0
            if encoding:
                run_i[b] = 0
            if row[b] >= end[b]:
                active[b] = False
    return out, bits


def _set_above(r: np.ndarray, above: np.ndarray) -> None:
    """Fill one band's (width, 4) row-above table from the row `r` just finished."""
    w = r.shape[0]
    st = np.ones(w, bool)
    st[1:] = r[1:] != r[:-1]
    # next start strictly right of x: reverse cumulative minimum of start positions
    pos = np.where(st, np.arange(w), w)
    nxt = np.full(w, w, np.int64)
    nxt[:-1] = np.minimum.accumulate(pos[::-1])[::-1][1:]
    above[:, 0] = r
    above[:, 1] = np.where(nxt < w, r[np.minimum(nxt, w - 1)], NONE)
    above[:, 2] = nxt
    above[:, 3] = st


def encode_ids(model, ids: np.ndarray, band_height: int = DEFAULT_BAND_HEIGHT) -> tuple[bytes, float]:
    """Code a mask of model class ids (all < model.vocab_size). Returns (payload, ideal_bits).

    The payload (container version 2) is the band height as a varint followed by the range
    coder's 32-bit words, little-endian."""
    import constriction

    from mc_codec.container import put_varint

    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if ids.ndim != 2 or ids.size == 0:
        raise ValueError(f"expected a non-empty 2D mask, got shape {ids.shape}")
    if ids.max() >= model.vocab_size or ids.min() < 0:
        raise ValueError(f"class id {int(ids.max())} is outside the model vocabulary ({model.vocab_size})")
    band_height = max(1, min(int(band_height), 65535))
    enc = constriction.stream.queue.RangeEncoder()
    with coding_mode():
        _, bits = _run(model, ids.shape[0], ids.shape[1], band_height, ids, enc)
    out = bytearray()
    put_varint(out, band_height)
    return bytes(out) + enc.get_compressed().astype("<u4").tobytes(), bits


def decode_ids(model, payload: bytes, height: int, width: int, version: int = 2,
               max_bytes: int | None = None) -> np.ndarray:
    """Inverse of :func:`encode_ids` (`version`: the container's; 1 had a 7-byte payload head);
    raises CorruptPayload on data that cannot be ours, and DecodeTooLarge, before allocating
    anything, when the shape needs more than `max_bytes` (see :func:`max_decode_bytes`)."""
    import constriction

    from mc_codec.container import get_varint

    if version == 1:
        if len(payload) < _HEAD_V1.size:
            raise CorruptPayload("payload is truncated")
        pv, band_height, n = _HEAD_V1.unpack_from(payload)
        if pv != 1:
            raise CorruptPayload(f"unknown payload version {pv}")
        start = _HEAD_V1.size
        if len(payload) != start + 4 * n:
            raise CorruptPayload("payload is truncated or has trailing bytes")
    else:
        try:
            band_height, start = get_varint(payload, 0)
        except ValueError:
            raise CorruptPayload("payload is truncated") from None
        if (len(payload) - start) % 4:
            raise CorruptPayload("payload is truncated or has trailing bytes")
    if not 1 <= band_height <= 65535:
        raise CorruptPayload(f"band height {band_height}")
    limit = max_decode_bytes(max_bytes)
    need = decode_bytes_needed(height, width, band_height)
    if need > limit:
        raise DecodeTooLarge(f"the header claims a {height}x{width} mask (band height {band_height}); "
                             f"decoding it needs {need / 2**20:.0f} MiB, over the limit of "
                             f"{limit / 2**20:.0f} MiB (raise it with MC_CODEC_MAX_DECODE_MB)")
    words = np.frombuffer(payload, dtype="<u4", offset=start).astype(np.uint32)
    dec = constriction.stream.queue.RangeDecoder(words)
    with coding_mode():
        out, _ = _run(model, height, width, band_height, None, dec)
    return out
