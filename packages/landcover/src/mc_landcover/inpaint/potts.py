"""Potts Markov random field baseline.

Model: p(x) ∝ exp( sum_i h[x_i] + beta * sum_{i~j} [x_i == x_j] ) over 4-neighbour pairs, so the
conditional of one pixel given the rest is softmax_c( h[c] + beta * n_c(i) ) where n_c(i) counts
the neighbours of i that have class c. `h` and `beta` are fitted by maximum pseudo-likelihood on
training maps, and the field is sampled by checkerboard Gibbs sweeps (pixels of one colour of the
checkerboard are conditionally independent given the other colour, so each half is updated at once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_landcover.inpaint.baselines import Infill, nearest_fill


def neighbour_counts(x: np.ndarray, num_classes: int) -> np.ndarray:
    """(B, H, W, C): how many of each pixel's 4 neighbours have class c."""
    x = np.asarray(x, dtype=np.int64)
    onehot = np.eye(num_classes, dtype=np.float32)[x]           # (B, H, W, C)
    counts = np.zeros_like(onehot)
    counts[:, 1:] += onehot[:, :-1]
    counts[:, :-1] += onehot[:, 1:]
    counts[:, :, 1:] += onehot[:, :, :-1]
    counts[:, :, :-1] += onehot[:, :, 1:]
    return counts


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@dataclass
class PottsModel:
    field: np.ndarray   # (C,) per-class bias h
    beta: float         # coupling between equal neighbours

    @property
    def num_classes(self) -> int:
        return int(self.field.shape[0])

    def conditional_logits(self, x: np.ndarray) -> np.ndarray:
        """(B, H, W, C) logits of p(x_i = c | neighbours)."""
        return self.field[None, None, None, :] + self.beta * neighbour_counts(x, self.num_classes)

    def pseudo_log_likelihood(self, x: np.ndarray) -> float:
        """Mean over pixels of log p(x_i | neighbours), in nats."""
        x = np.asarray(x, dtype=np.int64)
        logp = _log_softmax(self.conditional_logits(x))
        return float(np.take_along_axis(logp, x[..., None], axis=-1).mean())

    def to_dict(self) -> dict:
        return {"model": "potts", "beta": float(self.beta), "field": [float(v) for v in self.field]}

    @classmethod
    def from_dict(cls, d: dict) -> PottsModel:
        return cls(np.asarray(d["field"], dtype=np.float64), float(d["beta"]))

    def save(self, path) -> None:
        from mc_core.atomic import write_json

        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path) -> PottsModel:
        try:
            with open(path) as f:
                d = json.load(f)
            if d.get("model") != "potts":
                raise ValueError("not a Potts model file")
            return cls.from_dict(d)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BadInputError(path, f"cannot read Potts model: {e}") from None


def fit_potts(maps: np.ndarray, num_classes: int, *, max_pixels: int = 200_000,
              rng: np.random.Generator | None = None, l2: float = 1e-4) -> PottsModel:
    """Maximum pseudo-likelihood fit of (h, beta) on (N, H, W) index maps (L-BFGS, exact gradient)."""
    from scipy.optimize import minimize

    maps = np.asarray(maps, dtype=np.int64)
    if maps.ndim != 3 or maps.shape[0] == 0:
        raise UsageError("fit_potts needs a non-empty (N, H, W) array of maps")
    counts = neighbour_counts(maps, num_classes).reshape(-1, num_classes).astype(np.float64)
    labels = maps.reshape(-1)
    if labels.size > max_pixels:
        rng = rng or np.random.default_rng(0)
        keep = rng.choice(labels.size, size=max_pixels, replace=False)
        counts, labels = counts[keep], labels[keep]
    n = labels.size
    onehot = np.eye(num_classes)[labels]
    n_same = counts[np.arange(n), labels]

    def objective(theta):
        h, beta = theta[:-1], theta[-1]
        z = h[None, :] + beta * counts
        zmax = z.max(axis=1, keepdims=True)
        ez = np.exp(z - zmax)
        norm = ez.sum(axis=1, keepdims=True)
        p = ez / norm
        logz = (np.log(norm) + zmax)[:, 0]
        nll = (logz - h[labels] - beta * n_same).mean() + l2 * (h @ h)
        g_h = (p - onehot).mean(axis=0) + 2 * l2 * h
        g_beta = ((p * counts).sum(axis=1) - n_same).mean()
        return nll, np.concatenate([g_h, [g_beta]])

    freq = np.bincount(labels, minlength=num_classes) + 1.0
    theta0 = np.concatenate([np.log(freq / freq.sum()), [0.0]])
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B")
    h = res.x[:-1] - res.x[:-1].mean()
    return PottsModel(h, float(res.x[-1]))


def _sample_rows(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class per row of (M, C) logits."""
    p = np.exp(_log_softmax(logits))
    u = rng.random((p.shape[0], 1))
    return np.minimum((np.cumsum(p, axis=1) < u).sum(axis=1), p.shape[1] - 1)


def gibbs_sweeps(model: PottsModel, x: np.ndarray, free: np.ndarray, sweeps: int,
                 rng: np.random.Generator, temperature: float = 1.0,
                 marginals: np.ndarray | None = None, burn_in: int = 0) -> np.ndarray:
    """Run `sweeps` checkerboard Gibbs sweeps over the `free` pixels of x (B, H, W), in place.

    When `marginals` (B, H, W, C) is given, after `burn_in` sweeps each sweep adds the one-hot
    state to it (so it ends as visit counts).
    """
    b, h, w = x.shape
    parity = (np.add.outer(np.arange(h), np.arange(w)) % 2).astype(bool)
    for s in range(sweeps):
        for colour in (False, True):
            sel = free & (parity == colour)[None]
            if not sel.any():
                continue
            logits = model.conditional_logits(x)[sel] / temperature
            x[sel] = _sample_rows(logits, rng)
        if marginals is not None and s >= burn_in:
            marginals += np.eye(model.num_classes)[x]
    return x


def potts_fill(model: PottsModel, x: np.ndarray, hidden: np.ndarray, rng: np.random.Generator,
               sweeps: int = 60, burn_in: int = 20) -> Infill:
    """Inpaint by Gibbs sampling the hidden pixels given the known ones.

    Chains start from the nearest-neighbour fill. The marginal of each hidden pixel is estimated
    from the sweeps after burn-in (add-half smoothed); argmax = most visited class, sampled = the
    final state of the chain (one joint sample).
    """
    c = model.num_classes
    x = np.asarray(x, dtype=np.int64)
    state = nearest_fill(x, hidden, c, prior=np.exp(model.field)).argmax.copy()
    visits = np.zeros(x.shape + (c,))
    gibbs_sweeps(model, state, hidden.astype(bool), sweeps, rng, marginals=visits, burn_in=burn_in)
    probs = (visits + 0.5) / (visits.sum(-1, keepdims=True) + 0.5 * c)
    argmax = np.where(hidden, probs.argmax(-1), x)
    return Infill(probs, argmax, np.where(hidden, state, x))


def potts_sample(model: PottsModel, n: int, height: int, width: int, rng: np.random.Generator,
                 sweeps: int = 200) -> np.ndarray:
    """n unconditional samples (n, H, W): start from independent draws of the field, then Gibbs."""
    p = np.exp(_log_softmax(model.field))
    x = rng.choice(model.num_classes, size=(n, height, width), p=p).astype(np.int64)
    return gibbs_sweeps(model, x, np.ones_like(x, dtype=bool), sweeps, rng)
