"""One coding step of a model: the next run's class and length frequencies for K rows at once.

The entropy coder calls the model once per run token (batched over the bands it codes in
lock-step), on a handful of rows, so per-call overhead, not arithmetic, dominates decoding: a
torch op costs 5-50 us of dispatch here, the same numpy op 1-4 us. And encoder and decoder, maybe
on different machines, must compute *identical* frequencies.

:class:`IntRleStepper` does both for `rle-lm`: it runs the model in numpy in fixed-point integer
arithmetic, after folding the embedding tables into the layers that consume them (an embedding
feeding a linear layer is a table lookup of the product). A step is one gather-and-sum for the
input, two matmuls for the GRU gates and the skip connection, one for both heads, and one gather
and one matmul for the length head; the matmuls run in float64 BLAS on integer values whose
partial sums stay below 2**52, so they are exact whatever the order of the additions (CPU, BLAS,
thread count). Sigmoid, tanh and the softmax's exp come from integer tables. Frequencies are then
integer arithmetic too. Bit-exact across machines by construction; tests check the result
against the torch model, across thread counts, and with the matmul's sums reordered.

:class:`IntMsdzipStepper` does the same for `msdzip` (layer norm with exact integer sums and a
correctly rounded IEEE square root and division, GELU from an integer table). Any other model
supplies its own stepper (`CodecModel.coding_stepper`, see :mod:`mc_codec.interface`); the coder
checks the frequencies it returns (:class:`CheckedStepper`).
"""

from __future__ import annotations

import numpy as np

from mc_codec.tokens import NUM_DIST_BUCKETS, NUM_LEN_SYMBOLS

FREQ_TOTAL = 1 << 16


def quantize(logits) -> np.ndarray:
    """Deterministic integer frequencies (as float32) from logits (K, n): the float64 softmax
    scaled to ``1 + floor(p * (2**16 - n))``, so every symbol keeps a frequency of at least 1."""
    lg = np.asarray(logits.numpy() if hasattr(logits, "numpy") else logits, dtype=np.float64)
    lg = lg - lg.max(axis=1, keepdims=True)
    e = np.exp(lg)
    n = lg.shape[1]
    e *= (FREQ_TOTAL - n) / e.sum(axis=1, keepdims=True)
    np.floor(e, out=e)
    e += 1.0
    return e.astype(np.float32)


# Fixed-point scales of the integer stepper: activations carry ACT_BITS fractional bits, weights
# W_BITS. The nonlinearity tables cover |x| <= LUT_RANGE (sigmoid and tanh are 0/1 beyond it, to
# the table's precision) and the softmax table covers logit gaps up to EXP_RANGE.
ACT_BITS, W_BITS = 12, 14
LUT_RANGE, EXP_RANGE, EXP_BITS = 12, 20, 24
_EXACT = 2.0 ** 52   # integers below this are exact in float64, whatever the order of the sums


def _q(t, bits: int) -> np.ndarray:
    """round(t * 2**bits) as int64: exact (float32 -> float64 and a power-of-two scale are exact)."""
    return np.round(t.detach().to("cpu").double().numpy() * float(1 << bits)).astype(np.int64)


def _table(values: np.ndarray, name: str) -> np.ndarray:
    """Round a float64 table to integers, refusing entries so close to a rounding boundary that
    another libm's exp (accurate to a few ulps, ~1e-15 relative) might round them differently.
    (The closest entries are about 1e-8 from a boundary; the margin asked for is ~1e-11.)"""
    margin = np.abs(values - np.floor(values) - 0.5)
    if (margin <= 1e-14 * np.abs(values) + 1e-12).any():
        raise RuntimeError(f"{name} table has an entry too close to a rounding boundary")
    return np.round(values).astype(np.int64)


_LUTS: dict[str, np.ndarray] = {}


def _erf(x: np.ndarray) -> np.ndarray:
    import math

    return np.array([math.erf(v) for v in x.tolist()])


def lookup_tables() -> dict[str, np.ndarray]:
    """sigmoid, tanh, gelu (input and output at ACT_BITS) and exp(-d) (at EXP_BITS), built once."""
    if not _LUTS:
        a = float(1 << ACT_BITS)
        x = np.arange(-LUT_RANGE * (1 << ACT_BITS), LUT_RANGE * (1 << ACT_BITS) + 1) / a
        _LUTS["sigmoid"] = _table(a / (1.0 + np.exp(-x)), "sigmoid")
        _LUTS["tanh"] = _table(a * np.tanh(x), "tanh")
        _LUTS["gelu"] = _table(a * x * 0.5 * (1.0 + _erf(x / np.sqrt(2.0))), "gelu")
        d = np.arange(EXP_RANGE * (1 << ACT_BITS) + 1) / a
        _LUTS["exp"] = _table(np.exp(-d) * float(1 << EXP_BITS), "exp")
    return _LUTS


def quantize_int_logits(logits: np.ndarray) -> np.ndarray:
    """Integer frequencies from integer(-valued) logits (K, n) at ACT_BITS, in integer arithmetic:
    ``1 + floor(e_i * (2**16 - n) / sum(e))`` with ``e_i = round(2**24 * exp(-(max - l_i)))``."""
    gap = np.minimum(logits.max(axis=1, keepdims=True) - logits, EXP_RANGE << ACT_BITS)
    e = lookup_tables()["exp"][gap.astype(np.intp)]
    n = logits.shape[1]
    return (1 + (e * (FREQ_TOTAL - n)) // e.sum(axis=1, keepdims=True)).astype(np.float32)


class _IntStepper:
    """Fixed-point helpers and the shared class/length heads (see IntRleStepper)."""

    v: int
    hidden: int

    @staticmethod
    def _weights(w, in_max: float) -> np.ndarray:
        """Integer weights as float64 for BLAS, after checking every dot product stays exact."""
        wq = _q(w, W_BITS)
        if float(in_max) * float(np.abs(wq).sum(axis=0).max()) >= _EXACT:
            raise ValueError("model weights too large for exact fixed-point coding")
        return wq.astype(np.float64)

    @staticmethod
    def _bias(b) -> np.ndarray:
        """A bias at ACT_BITS + W_BITS (added to the matmul's integer sums), as float64."""
        return (_q(b, ACT_BITS) << W_BITS).astype(np.float64)

    @staticmethod
    def _mm(a: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        """floor((a @ w + b) / 2**W_BITS) for integer-valued a, w, b: exact."""
        out = a @ w
        out += b
        out *= 1.0 / (1 << W_BITS)
        return np.floor(out, out=out)

    def _lut(self, table: np.ndarray, x: np.ndarray) -> np.ndarray:
        x = np.minimum(x, self.lim, out=x)
        x = np.maximum(x, -self.lim, out=x)
        x += self.lim
        return table[x.astype(np.intp)]

    def _fold_heads(self, heads, ctx_max: float) -> None:
        wb, ab = W_BITS, ACT_BITS
        # both heads' first products from ctx in one matmul: [class logits | length hidden]
        import torch

        self.head_w = self._weights(torch.cat([heads.cls_head.weight, heads.len_hidden.weight]).T, ctx_max)
        self.head_b = self._bias(torch.cat([heads.cls_head.bias, heads.len_hidden.bias]))
        # the length head's class input: rows [cls] = cur_cls(cls) @ W_lh^T, rows [v + eq] = the
        # two "class equals above/after" flags through cur_flags and W_lh
        eq = np.array([[(i >> b) & 1 for b in range(2)] for i in range(4)], np.int64)
        eq_rows = eq @ _q(heads.cur_flags.weight, wb).T + _q(heads.cur_flags.bias, wb)
        w_lh = _q(heads.len_hidden.weight, wb).T
        self.len_table = (np.concatenate([_q(heads.cur_cls.weight, wb) @ w_lh,
                                          eq_rows @ w_lh]) >> (2 * wb - ab)).astype(np.float64)
        hl_max = ctx_max * float(np.abs(self.head_w).sum(axis=0).max()) / (1 << wb) \
            + float(np.abs(self.len_table).max()) * 2 + float(np.abs(self.head_b).max())
        self.len_w = self._weights(heads.len_head.weight.T, hl_max)
        self.len_b = self._bias(heads.len_head.bias)

    def class_freqs(self, ctx) -> np.ndarray:
        return quantize_int_logits(self._hc[:, :self.v])

    def length_freqs(self, ctx, cls: np.ndarray) -> np.ndarray:
        above = self._above
        idx = np.empty((cls.shape[0], 2), np.int64)
        np.clip(cls, 0, self.v - 1, out=idx[:, 0])
        idx[:, 1] = self.v + (cls == above[:, 0]) + 2 * (cls == above[:, 1])
        hl = np.maximum(self.len_table[idx].sum(axis=1) + self._hc[:, self.v:], 0)
        return quantize_int_logits(self._mm(hl, self.len_w, self.len_b))


class IntRleStepper(_IntStepper):
    """`rle-lm` in fixed-point integer arithmetic: the same frequencies on every machine.

    Every parameter is rounded to an integer (`round(w * 2**14)`, exact), the embedding tables are
    folded into the input layer with integer products, and a step uses only integer additions,
    shifts, table lookups and matmuls whose operands and partial sums are integers below 2**52,
    which float64 BLAS computes exactly in any order, on any CPU, with any thread count (the
    bounds are checked when the model is folded). Sigmoid, tanh and the softmax's exp come from
    tables rounded with a margin no libm's error can cross. So encoder and decoder agree bit for
    bit by construction, not by float luck.
    """

    def __init__(self, model):
        import torch

        with torch.no_grad():
            self._fold(model)

    def _fold(self, model) -> None:
        import torch

        emb, g = model.embed, model.gru
        v, wb, ab = model.vocab_size, W_BITS, ACT_BITS
        self.v = v
        self.hidden = hid = g.hidden_size
        w_inp = _q(model.inp.weight, wb).T                       # (E, H) at wb
        flags = np.array([[(i >> b) & 1 for b in range(3)] for i in range(8)], np.int64)
        flag_rows = flags @ _q(emb.flags.weight, wb).T + _q(emb.flags.bias, wb)
        parts = [emb.prev_cls.weight, emb.prev_len.weight, emb.above_cls.weight,
                 emb.after_cls.weight, emb.d_bucket.weight, emb.rem_bucket.weight]
        tables = [_q(p, wb) @ w_inp for p in parts]               # at 2*wb, exact int64
        tables.append(flag_rows @ w_inp + (_q(model.inp.bias, wb) << wb))
        sizes = [t.shape[0] for t in tables]
        assert sizes == [v + 1, NUM_LEN_SYMBOLS + 1, v + 1, v + 1, NUM_DIST_BUCKETS,
                         NUM_DIST_BUCKETS, 8], sizes
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.in_table = (np.concatenate(tables) >> (2 * wb - ab)).astype(np.float64)  # at ab (floor)
        x_max = sum(int(np.maximum(t >> (2 * wb - ab), 0).max()) for t in tables)
        self.x_w = self._weights(torch.cat([g.weight_ih_l0, model.skip.weight]).T, x_max)
        self.x_b = self._bias(torch.cat([g.bias_ih_l0, model.skip.bias]))
        self.h_w = self._weights(g.weight_hh_l0.T, 1 << ab)
        self.h_b = self._bias(g.bias_hh_l0)
        skip_max = x_max * float(np.abs(self.x_w[:, 3 * hid:]).sum(axis=0).max()) / (1 << wb)
        self._fold_heads(model.heads, skip_max + float(np.abs(self.x_b[3 * hid:]).max()) + (1 << ab))
        luts = lookup_tables()
        self.sig, self.tanh = (luts[k].astype(np.float64) for k in ("sigmoid", "tanh"))
        self.lim = float(LUT_RANGE << ab)

    def init_state(self, k: int) -> np.ndarray:
        return np.zeros((k, self.hidden), np.float64)

    def context(self, state: np.ndarray, feats: np.ndarray):
        """feats (K, 9) int64 token features -> (ctx, new_state): integers at ACT_BITS, held in
        float64 arrays (every value and product stays far below 2**52, so they are exact)."""
        hid, ab = self.hidden, ACT_BITS
        idx = _feature_rows(feats, self.v) + self.offsets
        self._above = feats[:, 2:4]
        x = np.maximum(self.in_table[idx].sum(axis=1), 0)
        gx = self._mm(x, self.x_w, self.x_b)
        gh = self._mm(state, self.h_w, self.h_b)
        scale = 1.0 / (1 << ab)
        rz = self._lut(self.sig, gx[:, :2 * hid] + gh[:, :2 * hid])
        r, z = rz[:, :hid], rz[:, hid:]
        n = self._lut(self.tanh, gx[:, 2 * hid:3 * hid] + np.floor(r * gh[:, 2 * hid:] * scale))
        h = n + np.floor(z * (state - n) * scale)          # (1 - z) * n + z * h
        ctx = np.maximum(gx[:, 3 * hid:] + h, 0)
        self._hc = self._mm(ctx, self.head_w, self.head_b)
        return ctx, h


def _feature_rows(feats: np.ndarray, v: int) -> np.ndarray:
    """(K, 7) rows of the 7 embedding tables (in FeatureEmbedding order) a token's features pick:
    previous class, previous length symbol, class above, class after (NONE -> the extra last
    row), distance bucket, remaining bucket, and the three flags as one 3-bit index."""
    idx = np.empty((feats.shape[0], 7), np.int64)
    idx[:, :4] = feats[:, :4]
    idx[:, :4] = np.where(idx[:, :4] < 0, (v, NUM_LEN_SYMBOLS, v, v), idx[:, :4])
    idx[:, 4] = feats[:, 4]
    idx[:, 5] = feats[:, 8]
    idx[:, 6] = feats[:, 5] + 2 * feats[:, 6] + 4 * feats[:, 7]
    return idx


class IntMsdzipStepper(_IntStepper):
    """`msdzip` in the same fixed-point arithmetic as IntRleStepper.

    The window of the last `timesteps` token embeddings is the state (integers at ACT_BITS). Layer
    norm uses exact integer sums and an IEEE-754 square root and division (correctly rounded on
    every conforming machine, so deterministic), GELU an integer table. Activations are checked to
    stay in range, so every matmul is exact in float64.
    """

    def __init__(self, model):
        import torch

        with torch.no_grad():
            self._fold(model)

    def _fold(self, model) -> None:
        emb, ab = model.embed, ACT_BITS
        self.v = model.vocab_size
        self.t, self.d = model.timesteps, model.vocab_dim
        self.hidden = hid = model.inp.out_features
        flags = np.array([[(i >> b) & 1 for b in range(3)] for i in range(8)], np.int64)
        flag_rows = flags @ _q(emb.flags.weight, ab).T + _q(emb.flags.bias, ab)
        parts = [_q(p, ab) for p in (emb.prev_cls.weight, emb.prev_len.weight, emb.above_cls.weight,
                                     emb.after_cls.weight, emb.d_bucket.weight, emb.rem_bucket.weight)]
        tables = [*parts, flag_rows]
        self.offsets = np.concatenate([[0], np.cumsum([t.shape[0] for t in tables])[:-1]]).astype(np.int64)
        self.e_table = np.concatenate(tables).astype(np.float64)
        e_max = float(np.abs(self.e_table).max()) * 7
        self.inp_w = self._weights(model.inp.weight.T, e_max)
        self.inp_b = self._bias(model.inp.bias)
        ln_max = float(hid) ** 0.5 * (1 << ab)             # |normalised| <= sqrt(H)
        self.blocks = []
        for blk in model.blocks:
            g, b = self._ln(blk.norm)
            y_max = ln_max * float(np.abs(g).max()) / (1 << W_BITS) + float(np.abs(b).max())
            w1, b1 = self._weights(blk.fc1.weight.T, y_max), self._bias(blk.fc1.bias)
            a_max = y_max * float(np.abs(w1).sum(axis=0).max()) / (1 << W_BITS) + float(np.abs(b1).max())
            self.blocks.append((g, b, w1, b1, self._weights(blk.fc2.weight.T, a_max), self._bias(blk.fc2.bias)))
        self.norm = self._ln(model.norm)
        g, b = self.norm
        self._fold_heads(model.heads, ln_max * float(np.abs(g).max()) / (1 << W_BITS) + float(np.abs(b).max()))
        self.eps = float(round(model.norm.eps * (1 << (2 * ab))))
        self.gelu = lookup_tables()["gelu"].astype(np.float64)
        self.lim = float(LUT_RANGE << ab)

    @staticmethod
    def _ln(norm) -> tuple[np.ndarray, np.ndarray]:
        return _q(norm.weight, W_BITS).astype(np.float64), _q(norm.bias, ACT_BITS).astype(np.float64)

    def _layer_norm(self, x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Integer layer norm: centre on floor(mean), scale by an IEEE sqrt and division (each
        correctly rounded), then the affine part; every intermediate is an exact integer."""
        if np.abs(x).max() >= 2.0 ** 22:
            raise ValueError("activation outside the fixed-point range")
        h = x.shape[1]
        c = x - np.floor(x.sum(axis=1, keepdims=True) / h)
        var = (c * c).sum(axis=1, keepdims=True)              # exact: < 2**52
        inv = np.floor((2.0 ** 16) * np.sqrt(float(h) * (1 << (2 * ACT_BITS)) / (var + h * self.eps)))
        y = np.floor(c * inv * (2.0 ** -16))                   # normalised, at ACT_BITS
        return np.floor(y * g * (1.0 / (1 << W_BITS))) + b

    def _gelu(self, x: np.ndarray) -> np.ndarray:
        big = x > self.lim
        out = self._lut(self.gelu, x.copy())
        out[big] = x[big]
        return out

    def init_state(self, k: int) -> np.ndarray:
        return np.zeros((k, self.t, self.d), np.float64)

    def context(self, state: np.ndarray, feats: np.ndarray):
        k = feats.shape[0]
        idx = _feature_rows(feats, self.v) + self.offsets
        self._above = feats[:, 2:4]
        e = self.e_table[idx].sum(axis=1)
        win = np.concatenate([state[:, 1:], e[:, None]], axis=1)
        x = self._mm(win.reshape(k, -1), self.inp_w, self.inp_b)
        for g, b, w1, b1, w2, b2 in self.blocks:
            y = self._layer_norm(x, g, b)
            x = x + self._mm(self._gelu(self._mm(y, w1, b1)), w2, b2)
        ctx = self._layer_norm(x, *self.norm)
        self._hc = self._mm(ctx, self.head_w, self.head_b)
        return ctx, win


class ModelFault(ValueError):
    """A model's stepper returned frequencies the coder cannot use."""


class CheckedStepper:
    """Wraps a stepper supplied by a model outside this package: every frequency table is checked
    (shape, integer values in 1 .. MAX_FREQ) before the range coder sees it, so a faulty model is
    a clear error (:class:`ModelFault`), never a file that cannot be decoded."""

    def __init__(self, inner, vocab_size: int):
        self.inner = inner
        self.vocab_size = int(vocab_size)

    def init_state(self, k: int):
        return self.inner.init_state(k)

    def context(self, state, feats: np.ndarray):
        self._k = feats.shape[0]
        return self.inner.context(state, feats)

    @staticmethod
    def _check(freqs, k: int, n: int, what: str) -> np.ndarray:
        from mc_codec.interface import MAX_FREQ

        f = np.asarray(freqs.numpy() if hasattr(freqs, "numpy") else freqs)
        if f.shape != (k, n):
            raise ModelFault(f"the model's {what} frequencies have shape {f.shape}, expected {(k, n)}")
        f64 = f.astype(np.float64)
        if not (np.isfinite(f64).all() and (f64 == np.floor(f64)).all() and (f64 >= 1).all()
                and (f64 <= MAX_FREQ).all()):
            raise ModelFault(f"the model's {what} frequencies must be integers in 1..{MAX_FREQ}")
        return f64.astype(np.float32)

    def class_freqs(self, ctx) -> np.ndarray:
        return self._check(self.inner.class_freqs(ctx), self._k, self.vocab_size, "class")

    def length_freqs(self, ctx, cls: np.ndarray) -> np.ndarray:
        return self._check(self.inner.length_freqs(ctx, cls), cls.shape[0], NUM_LEN_SYMBOLS, "length")


_EXACT_STEPPERS = (IntRleStepper, IntMsdzipStepper)


def make_stepper(model):
    """The stepper the coder runs for `model`: its own ``coding_stepper()`` (the built-in models
    return their exact integer steppers, cached until the weights change); any other stepper is
    wrapped in :class:`CheckedStepper`."""
    st = model.coding_stepper()
    return st if isinstance(st, _EXACT_STEPPERS) else CheckedStepper(st, model.vocab_size)
