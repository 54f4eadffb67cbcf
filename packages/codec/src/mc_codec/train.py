"""Training of codec models: :func:`train_codec`, run by the one training loop of mc-core
(:func:`mc_core.training.fit`, through Hugging Face accelerate).

Any model registered for ``task="codec"`` trains here (built through :mod:`mc_core.factory` and
checked against :class:`mc_codec.interface.CodecModel`): the loss is the model's
:meth:`~mc_codec.interface.CodecModel.token_nats` in **bits per token** of a batch of rows (the
metrics also log the batch's ``bits_per_pixel``, mantissa bits included), and ``best`` is kept on
the validation split's bits per pixel (the ideal code length), evaluated once an epoch.

Epochs map onto steps: an epoch is ``ceil(rows / batch_size)`` steps over every training row
once (launched on N processes, each step takes N batches, rank r the batch ``N * step + r``).
The batch of a step depends only on (seed, step): epoch ``e``'s image order is drawn from
``(seed, e)``, images are taken 16 at a time (only those are held in memory) and the rows of a
group are shuffled with ``(seed, e, group)``; so ``--resume`` sees the same batches as a run
that never stopped. The loop writes ``OUT/checkpoints/{last,best,final}``, ``OUT/metrics.csv``,
``OUT/loss.png`` and ``OUT/train_log.json``; the split goes to ``OUT/splits`` unless given.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError

GROUP_IMAGES = 16
LN2 = math.log(2.0)


class RowBatches:
    """The batch of rows of every step (see the module docstring): ``batch(step)`` ->
    (feats, classes, len_syms, mantissa bits, pixels)."""

    def __init__(self, source, heights: list[int], widths: list[int], batch_size: int, seed: int,
                 group: int = GROUP_IMAGES):
        self.source = source
        self.heights = np.asarray(heights, np.int64)
        self.widths = np.asarray(widths, np.int64)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.group = int(group)
        self.rows = int(self.heights.sum())
        self.steps_per_epoch = max(1, -(-self.rows // self.batch_size))
        self._epoch: tuple[int, np.ndarray, np.ndarray] | None = None
        self._groups: OrderedDict[tuple[int, int], tuple[list, np.ndarray]] = OrderedDict()

    def _plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        if self._epoch is None or self._epoch[0] != epoch:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self.heights))
            sizes = [int(self.heights[order[g:g + self.group]].sum())
                     for g in range(0, len(order), self.group)]
            self._epoch = (epoch, order, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))
        return self._epoch[1], self._epoch[2]

    def _group_rows(self, epoch: int, g: int, order: np.ndarray):
        key = (epoch, g)
        if key not in self._groups:
            rows, extra = [], []
            for i in order[g * self.group:(g + 1) * self.group]:
                tok = self.source.tokens(int(i))
                for r, (f, c, s) in enumerate(tok.rows()):
                    lo, hi = tok.row_ptr[r], tok.row_ptr[r + 1]
                    rows.append((f, c, s))
                    extra.append((int(np.asarray(tok.mant_bits[lo:hi], np.int64).sum()), tok.width))
            perm = np.random.default_rng([self.seed, epoch, g + 1]).permutation(len(rows))
            self._groups[key] = ([rows[j] for j in perm], np.asarray([extra[j] for j in perm], np.int64))
            while len(self._groups) > 2:
                self._groups.popitem(last=False)
        return self._groups[key]

    def batch(self, step: int):
        from mc_codec.rows import pad_rows

        epoch, j = divmod(int(step), self.steps_per_epoch)
        order, offsets = self._plan(epoch)
        lo, hi = j * self.batch_size, min((j + 1) * self.batch_size, self.rows)
        rows, extra = [], []
        g = int(np.searchsorted(offsets, lo, side="right") - 1)
        while lo < hi:
            grows, gextra = self._group_rows(epoch, g, order)
            a, b = lo - offsets[g], min(hi, offsets[g + 1]) - offsets[g]
            rows += grows[a:b]
            extra.append(gextra[a:b])
            lo = offsets[g + 1]
            g += 1
        ex = np.concatenate(extra)
        feats, cls, lsym = pad_rows(rows)
        return feats, cls, lsym, float(ex[:, 0].sum()), int(ex[:, 1].sum())


def batch_loss(model, feats, cls, lsym, mant_bits: float, pixels: int) -> dict:
    """{"loss": bits per token (a tensor), "bits_per_pixel": the batch's ideal bits per pixel}."""
    c, ln = model.token_nats(feats, cls, lsym)
    n = int((cls >= 0).sum())
    nats = c.sum() + ln.sum()
    return {"loss": nats / LN2 / max(n, 1),
            "bits_per_pixel": (float(nats.detach()) / LN2 + mant_bits) / max(pixels, 1)}


def _image_stats(source, folder: Path, rel: list[str]) -> list[tuple[int, int, int]]:
    """(height, width, max id) of every image of a token source."""
    out = []
    for i in range(len(source)):
        tok = source.tokens(i)
        out.append((tok.height, tok.width, int(tok.max_id)))
    return out


def _num_processes() -> int:
    """Processes of this (accelerate) launch: 1 for a plain run."""
    from accelerate import PartialState

    return max(1, int(PartialState().num_processes))


def model_config(arch: str, vocab_size: int, use_2d: bool, model_args: dict[str, Any] | None) -> dict:
    """The constructor config of a codec model: ``vocab_size``, ``use_2d`` and its own args."""
    return {"vocab_size": int(vocab_size), "use_2d": bool(use_2d), **(model_args or {})}


def train_codec(data_root: str | os.PathLike, out_dir: str | os.PathLike, *, subdir: str | None = None,
                arch: str = "rle-lm", model_args: dict[str, Any] | None = None, epochs: int = 5,
                batch_size: int = 64, lr: float = 3e-3, use_2d: bool | None = None,
                splits_dir: str | os.PathLike | None = None, by_sequence: bool = False,
                vocab_size: int | None = None, row_cache_dir: str | os.PathLike | None = None,
                seed: int = 0, threads: int = 1, device: str = "auto", resume: bool = False,
                max_minutes: float | None = None, quiet: bool | None = None, context_prior: bool = True):
    """Train codec model `arch` (any registered for task "codec") on the masks under
    `data_root/subdir`; returns :class:`mc_core.training.TrainResult` (``best`` is the lowest
    validation bits per pixel, or mean training bits per token without a validation split).

    `use_2d` None: as the row cache was built (``--include-above-features``) when training from
    `row_cache_dir`, else True (the 2D context is the stronger model).

    After training, the counts of the primed context models (:mod:`mc_codec.primed`) over the
    training split are stored in every checkpoint folder (``context_prior.npz``), so the codec
    matrix of that checkpoint reports the ``context-model-primed`` baselines (`context_prior`
    False skips that: it reads every training mask once more)."""
    import torch

    from mc_codec.cache import cache_use_2d
    from mc_codec.data.masks import folder_of, splits_for
    from mc_codec.evaluate import split_bits
    from mc_codec.interface import CodecModel
    from mc_codec.rows import token_source
    from mc_core.checkpoint import fingerprint_files
    from mc_core.factory import create_model
    from mc_core.paths import check_outputs
    from mc_core.seeding import seed_everything
    from mc_core.training import TrainSettings, TrainTask, fit

    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("threads", threads, 1)):
        if int(value) < low:
            raise UsageError(f"{name} must be at least {low}, got {value}")
    if not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"lr must be a positive finite number, got {lr}")
    if vocab_size is not None and int(vocab_size) < 2:
        raise UsageError(f"vocab_size must be at least 2, got {vocab_size}")
    out = Path(out_dir)
    folder = folder_of(data_root, subdir)
    check_outputs([folder, row_cache_dir], [out])
    splits = splits_for(data_root, subdir, splits_dir or out / "splits", seed=seed, by_sequence=by_sequence)
    if not splits["train"]:
        raise BadInputError(folder, "the training split is empty")
    if use_2d is None:
        use_2d = cache_use_2d(row_cache_dir) if row_cache_dir else True
    train_src = token_source(folder, splits["train"], use_2d, row_cache_dir)
    val_src = token_source(folder, splits["val"], use_2d, row_cache_dir)
    train_stats = _image_stats(train_src, folder, splits["train"])
    val_stats = _image_stats(val_src, folder, splits["val"])
    ids = [(s[2], folder / r) for s, r in zip(train_stats + val_stats, splits["train"] + splits["val"])]
    top_id, top_file = max(ids, key=lambda t: t[0])
    if vocab_size is None:
        vocab_size = top_id + 1
    elif top_id >= int(vocab_size):
        raise BadInputError(top_file, f"class id {top_id} is beyond the vocabulary (vocab_size={vocab_size}); "
                                      f"train with a vocabulary of at least {top_id + 1}")
    cfg = model_config(arch, int(vocab_size), use_2d, model_args)
    seed_everything(seed)  # the initial weights follow the seed
    model = create_model(arch, cfg, task="codec", protocol=CodecModel)
    if not isinstance(model, torch.nn.Module) or not any(p.requires_grad for p in model.parameters()):
        raise UsageError(f"model {arch!r} is not a torch module with trainable parameters; "
                         "`mc codec train` trains through the gradient")
    if bool(getattr(model, "use_2d", use_2d)) != bool(use_2d):
        raise UsageError(f"model {arch!r} has use_2d={model.use_2d}, the data was tokenised with "
                         f"use_2d={use_2d}")
    batches = RowBatches(train_src, [s[0] for s in train_stats], [s[1] for s in train_stats], batch_size, seed)
    procs = _num_processes()
    spe = -(-batches.steps_per_epoch // procs)   # with N processes (accelerate), N batches a step
    torch.set_num_threads(max(1, int(threads)))  # tiny models: more threads only add overhead

    def loss(m, ctx):
        feats, cls, lsym, mant, pixels = batches.batch(ctx.step * ctx.num_processes + ctx.rank)
        return batch_loss(m, feats.to(ctx.device), cls.to(ctx.device), lsym.to(ctx.device), mant, pixels)

    def evaluate(m) -> dict[str, float]:
        if not len(val_src):
            return {}
        dev = next(m.parameters()).device
        bits, pix = split_bits(m, val_src, range(len(val_src)), dev)
        return {"val_bpp": bits / pix}

    config = {"model": cfg, "train": {"arch": arch, "epochs": int(epochs), "batch_size": int(batch_size),
                                      "lr": float(lr), "seed": int(seed), "use_2d": bool(use_2d)}}
    meta = {"data_sha256": fingerprint_files([folder / p for p in splits["train"]], folder),
            "train_images": len(splits["train"]), "steps_per_epoch": spe,
            "args": {"data_root": str(data_root), "subdir": subdir, "epochs": int(epochs),
                     "batch_size": int(batch_size), "lr": float(lr), "arch": arch,
                     "use_2d_context": bool(use_2d), "seed": int(seed),
                     "row_cache_dir": None if row_cache_dir is None else str(row_cache_dir)}}
    prior_files = None
    if context_prior:  # the primed counts go into every checkpoint as it is written
        from mc_codec.primed import PRIOR_FILE, fit_train_prior

        prior = fit_train_prior(folder, splits["train"], int(vocab_size))
        if prior is not None:
            prior_files = lambda d: prior.save(d / PRIOR_FILE)
    task = TrainTask(model=model, model_name=arch, config=config,
                     make_optimizer=lambda m: torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=1e-4),
                     loss=loss, evaluate=evaluate, best_key="val_bpp", meta=meta,
                     checkpoint_files=prior_files)
    settings = TrainSettings(out_dir=out, steps=int(epochs) * spe, device=device, resume=resume,
                             max_minutes=max_minutes, seed=seed, ckpt_every=spe, eval_every=spe,
                             log_every=max(1, min(50, spe // 4)), desc=f"train {arch}", quiet=quiet)
    return fit(task, settings)
