"""A count-based context model for `mc codec` (registered as ``example-counts-codec``).

It implements :class:`mc_codec.interface.CodecModel` without any of mc-codec's own models:

* the class of a run is predicted from counts in the context (previous run's class, class
  above), the length symbol from counts in the context (the class equals the class above, the
  class after the next transition above, log2 distance to that transition);
* the prediction is ``(n_s + a) / (n + K a)`` (additive smoothing) with a learned strength ``a``
  per head, a torch parameter trained by the gradient of the code length;
* in training mode every batch first scores its tokens with the counts so far (a prequential
  code length, an honest loss) and then adds them to the counts, so the loss falls as the counts
  accumulate; in eval mode the counts are frozen;
* for coding, the counts and ``a`` (rounded to 8 fractional bits) become integer frequency tables
  with integer arithmetic only, so encoder and decoder agree bit for bit on any machine.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mc_codec.tokens import NUM_DIST_BUCKETS, NUM_LEN_SYMBOLS

FREQ_TOTAL = 1 << 16
PRIOR_BITS = 8
MAX_COUNT = 1 << 31   # counts are clipped to this in the integer tables (no int64 overflow)


def _class_context(feats, v: int):
    """Index of (previous class, class above); "none" (-1) is index v."""
    prev = torch.where(feats[..., 0] < 0, torch.full_like(feats[..., 0], v), feats[..., 0])
    above = torch.where(feats[..., 2] < 0, torch.full_like(feats[..., 2], v), feats[..., 2])
    return prev * (v + 1) + above


def _length_context(feats, cls):
    """Index of (class == class above, class == class after, log2 distance bucket)."""
    eq_above = (cls == feats[..., 2]).long()
    eq_after = (cls == feats[..., 3]).long()
    return (eq_above * 2 + eq_after) * NUM_DIST_BUCKETS + feats[..., 4]


def _freq_table(counts: np.ndarray, prior_q: int) -> np.ndarray:
    """Integer frequencies ``1 + floor(f_i * (2**16 - n) / sum f)`` with ``f_i = n_i * 2**8 + prior_q``."""
    f = np.minimum(counts.astype(np.int64), MAX_COUNT) * (1 << PRIOR_BITS) + prior_q
    n = f.shape[1]
    return 1 + (f * (FREQ_TOTAL - n)) // f.sum(axis=1, keepdims=True)


class CountStepper:
    """Coding steps of a CountCodecModel: table lookups in integer frequency tables."""

    def __init__(self, model: CountCodecModel):
        a = torch.exp(model.log_prior.detach().double()).tolist()
        q = [max(1, int(round(x * (1 << PRIOR_BITS)))) for x in a]
        self.v = model.vocab_size
        self.class_table = _freq_table(model.class_counts.cpu().numpy(), q[0])
        self.length_table = _freq_table(model.length_counts.cpu().numpy(), q[1])

    def init_state(self, k: int) -> np.ndarray:
        return np.zeros((k, 1), np.int64)   # the model keeps no state along a row

    def context(self, state, feats: np.ndarray):
        return np.asarray(feats, np.int64), state

    def class_freqs(self, ctx: np.ndarray) -> np.ndarray:
        prev = np.where(ctx[:, 0] < 0, self.v, ctx[:, 0])
        above = np.where(ctx[:, 2] < 0, self.v, ctx[:, 2])
        return self.class_table[prev * (self.v + 1) + above]

    def length_freqs(self, ctx: np.ndarray, cls: np.ndarray) -> np.ndarray:
        idx = ((cls == ctx[:, 2]).astype(np.int64) * 2 + (cls == ctx[:, 3])) * NUM_DIST_BUCKETS + ctx[:, 4]
        return self.length_table[idx]


class CountCodecModel(nn.Module):
    """Counts in two small contexts plus a learned smoothing strength per head."""

    def __init__(self, vocab_size: int, use_2d: bool = True, prior: float = 4.0):
        super().__init__()
        if int(vocab_size) < 2:
            raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
        if not (math.isfinite(prior) and prior > 0):
            raise ValueError(f"prior must be a positive number, got {prior}")
        self.vocab_size = int(vocab_size)
        self.use_2d = bool(use_2d)
        v1 = self.vocab_size + 1
        self.register_buffer("class_counts", torch.zeros(v1 * v1, self.vocab_size, dtype=torch.int64))
        self.register_buffer("length_counts", torch.zeros(4 * NUM_DIST_BUCKETS, NUM_LEN_SYMBOLS,
                                                          dtype=torch.int64))
        self.log_prior = nn.Parameter(torch.full((2,), math.log(prior)))

    @staticmethod
    def _nats(counts, ctx, sym, log_a):
        c = counts[ctx].to(log_a.dtype)                              # (B, T, K)
        a = torch.exp(log_a)
        num = c.gather(-1, sym[..., None])[..., 0] + a
        return -(torch.log(num) - torch.log(c.sum(-1) + counts.shape[1] * a))

    def token_nats(self, feats, classes, len_syms):
        """Per-token nats of classes and length symbols (0 at padding); in training mode the
        batch's tokens are then added to the counts."""
        valid = classes >= 0
        cls = classes.clamp(min=0)
        sym = len_syms.clamp(min=0)
        cctx = _class_context(feats, self.vocab_size)
        lctx = _length_context(feats, cls)
        zero = torch.zeros((), device=feats.device)
        c = torch.where(valid, self._nats(self.class_counts, cctx, cls, self.log_prior[0]), zero)
        ln = torch.where(valid, self._nats(self.length_counts, lctx, sym, self.log_prior[1]), zero)
        if self.training:
            with torch.no_grad():
                one = torch.ones_like(cls[valid])
                self.class_counts.index_put_((cctx[valid], cls[valid]), one, accumulate=True)
                self.length_counts.index_put_((lctx[valid], sym[valid]), one, accumulate=True)
        return c, ln

    def coding_stepper(self) -> CountStepper:
        version = (self.class_counts._version, self.length_counts._version, self.log_prior._version)
        cached = self.__dict__.get("_stepper")
        if cached is None or cached[0] != version:
            cached = (version, CountStepper(self))
            self.__dict__["_stepper"] = cached
        return cached[1]
