"""One coding step of a model: the next run's class and length frequencies for K rows at once.

The entropy coder calls the model once per run token (batched over the bands it codes in
lock-step), on a handful of rows, so per-call overhead, not arithmetic, dominates decoding: a
torch op costs 5-50 us of dispatch here, the same numpy op 1-4 us. :class:`RleStepper`
therefore runs `rle-lm` in numpy float32, after precomputing once per model the products of the
embedding tables with the layers that consume them (an embedding feeding a linear layer is a
table lookup of the product). A step is then one gather-and-sum for the input, two matmuls for
the GRU gates and the skip connection, one matmul for both heads, and one gather and one matmul
for the length head.

Both the encoder and the decoder use the same stepper on arrays of the same shapes, so they
compute bit-identical frequencies (tests check this across BLAS and torch thread counts). The folded
tables round differently from the unfused model (by float32 ulps), which changes the code
length by far less than the 16-bit frequency quantisation does; `GenericStepper` runs any other
model (msdzip) through its own `step_context`/`heads`.
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


class GenericStepper:
    """Any codec model through its `init_state` / `step_context` / `heads` interface."""

    def __init__(self, model):
        self.model = model

    def init_state(self, k: int):
        return self.model.init_state(k)

    def context(self, state, feats: np.ndarray):
        import torch

        self._ft = torch.from_numpy(feats)
        return self.model.step_context(state, self._ft)

    def class_freqs(self, ctx) -> np.ndarray:
        return quantize(self.model.heads.class_logits(ctx))

    def length_freqs(self, ctx, cls: np.ndarray) -> np.ndarray:
        import torch

        return quantize(self.model.heads.length_logits(ctx, torch.from_numpy(cls), self._ft))


class RleStepper:
    """`rle-lm` with its embeddings folded into the layers that consume them, run in numpy."""

    def __init__(self, model):
        import torch

        with torch.no_grad():
            self._fold(model)

    def _fold(self, model) -> None:
        import torch

        f64 = torch.float64

        def f32(t):
            return np.ascontiguousarray(t.detach().to(f64).numpy().astype(np.float32))

        emb, heads = model.embed, model.heads
        v = model.vocab_size
        w_inp = model.inp.weight.to(f64).T  # (E, H)
        # one table for all input features: rows [offset_i + value] hold E_i[value] @ W_inp^T
        flags = torch.tensor([[(i >> b) & 1 for b in range(3)] for i in range(8)], dtype=f64)
        flag_rows = flags @ emb.flags.weight.to(f64).T + emb.flags.bias.to(f64)
        parts = [emb.prev_cls.weight, emb.prev_len.weight, emb.above_cls.weight,
                 emb.after_cls.weight, emb.d_bucket.weight, emb.rem_bucket.weight]
        tables = [p.to(f64) @ w_inp for p in parts]
        tables.append(flag_rows @ w_inp + model.inp.bias.to(f64))  # the input bias rides here
        sizes = [t.shape[0] for t in tables]
        assert sizes == [v + 1, NUM_LEN_SYMBOLS + 1, v + 1, v + 1, NUM_DIST_BUCKETS,
                         NUM_DIST_BUCKETS, 8], sizes
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.in_table = f32(torch.cat(tables))
        self.v = v
        g = model.gru
        self.hidden = hid = g.hidden_size
        # input-side products of the GRU gates and the skip connection in one matmul
        self.x_w = f32(torch.cat([g.weight_ih_l0, model.skip.weight]).T)
        self.x_b = f32(torch.cat([g.bias_ih_l0, model.skip.bias]))
        self.h_w = f32(g.weight_hh_l0.T)
        self.h_b = f32(g.bias_hh_l0)
        assert self.x_w.shape == (hid, 4 * hid)
        # both heads' first products from ctx in one matmul: [class logits | length hidden]
        w_lh = heads.len_hidden.weight.to(f64)
        self.head_w = f32(torch.cat([heads.cls_head.weight, heads.len_hidden.weight]).T)
        self.head_b = f32(torch.cat([heads.cls_head.bias, heads.len_hidden.bias]))
        # the length head's class input: rows [cls] = cur_cls(cls) @ W_lh^T, rows [v + eq] = the
        # two "class equals above/after" flags through cur_flags and W_lh
        eq = torch.tensor([[(i >> b) & 1 for b in range(2)] for i in range(4)], dtype=f64)
        eq_rows = eq @ heads.cur_flags.weight.to(f64).T + heads.cur_flags.bias.to(f64)
        self.len_table = f32(torch.cat([heads.cur_cls.weight.to(f64) @ w_lh.T, eq_rows @ w_lh.T]))
        self.len_w = f32(heads.len_head.weight.T)
        self.len_b = f32(heads.len_head.bias)

    def init_state(self, k: int) -> np.ndarray:
        return np.zeros((k, self.hidden), np.float32)

    def context(self, state: np.ndarray, feats: np.ndarray):
        """feats (K, 9) int64 token features -> (ctx, new_state), float32 arrays."""
        k, hid = feats.shape[0], self.hidden
        idx = np.empty((k, 7), np.int64)
        idx[:, 0] = feats[:, 0]
        idx[:, 1] = feats[:, 1]
        idx[:, 2:4] = feats[:, 2:4]
        idx[:, :4] = np.where(idx[:, :4] < 0, (self.v, NUM_LEN_SYMBOLS, self.v, self.v), idx[:, :4])
        idx[:, 4] = feats[:, 4]
        idx[:, 5] = feats[:, 8]
        idx[:, 6] = feats[:, 5] + 2 * feats[:, 6] + 4 * feats[:, 7]
        idx += self.offsets
        self._above = feats[:, 2:4]
        x = self.in_table[idx].sum(axis=1)
        np.maximum(x, 0, out=x)
        gx = x @ self.x_w
        gx += self.x_b
        gh = state @ self.h_w
        gh += self.h_b
        rz = gx[:, :2 * hid] + gh[:, :2 * hid]
        _sigmoid(rz)
        n = gh[:, 2 * hid:]
        n *= rz[:, :hid]
        n += gx[:, 2 * hid:3 * hid]
        np.tanh(n, out=n)
        # h' = (1 - z) * n + z * h = n + z * (h - n)
        h = state - n
        h *= rz[:, hid:]
        h += n
        ctx = gx[:, 3 * hid:]
        ctx += h
        np.maximum(ctx, 0, out=ctx)
        self._hc = ctx @ self.head_w
        self._hc += self.head_b
        return ctx, h

    def class_freqs(self, ctx) -> np.ndarray:
        return quantize(self._hc[:, :self.v])

    def length_freqs(self, ctx, cls: np.ndarray) -> np.ndarray:
        above = self._above
        idx = np.empty((cls.shape[0], 2), np.int64)
        np.clip(cls, 0, self.v - 1, out=idx[:, 0])
        idx[:, 1] = self.v + (cls == above[:, 0]) + 2 * (cls == above[:, 1])
        hl = self.len_table[idx].sum(axis=1)
        hl += self._hc[:, self.v:]
        np.maximum(hl, 0, out=hl)
        out = hl @ self.len_w
        out += self.len_b
        return quantize(out)


def _sigmoid(a: np.ndarray) -> None:
    """In place: 1 / (1 + exp(-a))."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)


def make_stepper(model):
    """The fastest exact stepper for `model` (cached on the model until its weights change)."""
    version = tuple(p._version for p in model.parameters())  # changes when weights are updated
    cached = getattr(model, "_mc_stepper", None)
    if cached is None or cached[0] != version:  # first use, or weights changed since
        st = RleStepper(model) if type(model).__name__ == "RleLM" else GenericStepper(model)
        cached = (version, st)
        model._mc_stepper = cached
    return cached[1]
