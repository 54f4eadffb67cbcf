"""Training of the slot segmenter (``mc loci train``) in mc-core's one training loop
(:func:`mc_core.training.fit`: accelerate, exact resume, time budget, NaN stop, checkpoints).

    from mc_loci import train
    result = train("shapes_train", "runs/loci", steps=300, unsupervised=True,
                   model_config={"num_slots": 5}, train_config={"batch_size": 8})
    result.checkpoint                    # runs/loci/checkpoints/final

Each step draws a batch of random clips (``clip_frames`` consecutive frames) from the training
videos; the batch of step s depends only on (seed, s) (``StepContext.rng``), so a resumed run sees
the same batches as an uninterrupted one. Loss = mask_weight * cross-entropy of the masks after Hungarian matching of
slots to true objects per clip + recon_weight * reconstruction (``recon_loss``: "mse", MSE of the
blended RGB and depth; or "mixture", the per-pixel mixture NLL that unsupervised training needs)
+ usage_weight * slot-sparsity prior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mc_core.errors import BadInputError, UsageError

if TYPE_CHECKING:
    from mc_core.training import TrainResult

DEFAULT_TRAIN: dict[str, Any] = {
    "steps": 300,
    "batch_size": 8,
    "clip_frames": 4,
    "lr": 2e-3,
    "mask_weight": 1.0,
    "recon_weight": 1.0,
    "recon_loss": "mse",     # "mse" of the blended reconstruction, or "mixture": per-pixel mixture NLL
    "sigma": 0.1,            # std of the mixture components (0..1 colour units)
    "usage_weight": 0.0,     # sparsity prior: sum over slots of sqrt(mean mask), favours few slots
    "grad_clip": 1.0,
    "ckpt_every": 100,
    "vis_every": 0,          # write OUT_DIR/vis/step_NNNNNN.gif (segmentation of training video 0) every N steps
    "seed": 0,
}

# documented limits (a batch is allocated whole)
MAX_TRAIN = {"batch_size": 1024}

# what unsupervised=True picks for the options left unset (model options, then training options;
# see the README): the estimated farthest-surface background (the median without depth input),
# masked-mean appearance, estimated background depth and the mixture likelihood, no mask loss
UNSUPERVISED_RECIPE = {"appearance": "mean", "bg_depth": "estimate", "background": "farthest"}
UNSUPERVISED_TRAIN = {"recon_loss": "mixture", "mask_weight": 0.0}


def prepare_arrays(data, background: str = "median") -> dict[str, np.ndarray]:
    """Stack a MovingShapes data set and add the per-video estimated background colour bg (N,H,W,3)
    and depth bg_depth (N,H,W) (see ``mc_loci.baselines.estimate_background``); none for the
    learned background, which the model computes per frame."""
    from mc_loci.baselines import estimate_background

    arrays = data.arrays()
    if background == "learned":
        return arrays
    est = [estimate_background(r, d, background) for r, d in zip(arrays["rgb"], arrays["depth"])]
    arrays["bg"] = np.stack([c for c, _ in est]).astype(np.float32)
    arrays["bg_depth"] = np.stack([d for _, d in est]).astype(np.float32)
    return arrays


def match_targets(logits, masks, num_slots: int):
    """Channel targets (B,T,H,W) for cross-entropy: background -> 0, true object j -> 1 + the slot
    Hungarian-matched to it over the whole clip (cost = negative soft Dice); objects beyond the
    number of slots are ignored (-100)."""
    import torch
    from scipy.optimize import linear_sum_assignment

    with torch.no_grad():
        probs = torch.softmax(logits.float(), 2)[:, :, 1:]  # (B,T,K,H,W)
        target = torch.zeros_like(masks)
        for b in range(masks.shape[0]):
            ids = [int(i) for i in torch.unique(masks[b]) if i != 0]
            if not ids:
                continue
            gt = torch.stack([(masks[b] == i).float() for i in ids])  # (J,T,H,W)
            p = probs[b].transpose(0, 1)  # (K,T,H,W)
            inter = torch.einsum("jthw,kthw->jk", gt, p)
            dice = 2 * inter / (gt.sum((1, 2, 3))[:, None] + p.sum((1, 2, 3))[None] + 1e-6)
            rows, cols = linear_sum_assignment((-dice).cpu().numpy())
            assigned = dict(zip(rows.tolist(), cols.tolist()))
            for j, i in enumerate(ids):
                target[b][masks[b] == i] = assigned[j] + 1 if j in assigned else -100
    return target


RECON_LOSSES = ("mse", "mixture")


def mixture_nll(model_out, batch, sigma: float):
    """Per-pixel negative log-likelihood of the frame under the mixture of components (background,
    slot 1..K): -log sum_k m_k N(x | appearance_k, sigma^2), averaged over pixels, constants dropped.
    Unlike the MSE of the blended image, a component that explains a pixel much better than the
    background gets a strong gradient even while its mask weight there is still tiny."""
    import torch

    log_m = torch.log_softmax(model_out["logits"], 2)  # (B,T,1+K,H,W)
    err = ((model_out["comp_rgb"] - batch["rgb"][:, :, None]) ** 2).sum(3)
    if batch.get("depth") is not None:
        err = err + ((model_out["comp_depth"] - batch["depth"][:, :, None]) ** 2).sum(3)
    return -torch.logsumexp(log_m - err / (2 * sigma * sigma), 2).mean()


def slot_usage_penalty(logits):
    """Sum over slots of sqrt(fraction of the frame the slot covers), mean over frames: lowest when
    few slots cover the foreground (an object split over two slots costs more than one slot)."""
    import torch

    usage = torch.softmax(logits, 2)[:, :, 1:].mean((3, 4))  # (B,T,K)
    return torch.sqrt(usage + 1e-4).sum(2).mean()


def loss_terms(model_out, batch, num_slots: int, mask_weight: float, recon_weight: float, *,
               recon_loss: str = "mse", sigma: float = 0.1, usage_weight: float = 0.0):
    import torch.nn.functional as F

    logits = model_out["logits"]
    terms = {}
    total = 0.0
    if mask_weight > 0:
        target = match_targets(logits, batch["masks"], num_slots)
        ce = F.cross_entropy(logits.flatten(0, 1), target.flatten(0, 1), ignore_index=-100)
        terms["mask_ce"] = ce
        total = total + mask_weight * ce
    if recon_weight > 0:
        rgb_mse = F.mse_loss(model_out["rgb"], batch["rgb"])
        terms["rgb_mse"] = rgb_mse
        if batch.get("depth") is not None:
            terms["depth_mse"] = F.mse_loss(model_out["depth"], batch["depth"])
        if recon_loss == "mixture":
            terms["mixture_nll"] = mixture_nll(model_out, batch, sigma)
            total = total + recon_weight * terms["mixture_nll"]
        else:
            total = total + recon_weight * (rgb_mse + terms.get("depth_mse", 0.0))
    if usage_weight > 0:
        terms["usage"] = slot_usage_penalty(logits)
        total = total + usage_weight * terms["usage"]
    terms["loss"] = total
    return terms


def clip_batch(arrays: dict[str, np.ndarray], rng: np.random.Generator, batch_size: int, clip_frames: int,
               device="cpu") -> dict[str, Any]:
    """A batch of `batch_size` random clips of `clip_frames` frames, drawn with `rng`."""
    import torch

    n, t = arrays["rgb"].shape[:2]
    vids = rng.integers(0, n, size=batch_size)
    clip = min(clip_frames, t)
    starts = rng.integers(0, t - clip + 1, size=batch_size)
    sel = [(v, slice(s, s + clip)) for v, s in zip(vids, starts)]
    rgb = np.stack([arrays["rgb"][v, s] for v, s in sel])
    depth = np.stack([arrays["depth"][v, s] for v, s in sel])
    batch = {
        "rgb": torch.as_tensor(rgb, dtype=torch.float32, device=device).permute(0, 1, 4, 2, 3) / 255.0,
        "depth": torch.as_tensor(depth, dtype=torch.float32, device=device)[:, :, None],
        "masks": None,
        "bg": None,
    }
    if "masks" in arrays:
        masks = np.stack([arrays["masks"][v, s] for v, s in sel])
        batch["masks"] = torch.as_tensor(masks, dtype=torch.long, device=device)
    if "bg" in arrays:
        bg = np.concatenate([arrays["bg"][vids] / 255.0, arrays["bg_depth"][vids][..., None]], -1)
        batch["bg"] = torch.as_tensor(bg, dtype=torch.float32, device=device).permute(0, 3, 1, 2)  # colour + depth
    return batch


def progress_pictures(ds, out_dir: str | Path, every: int) -> list:
    """``TrainTask.every`` entries that write, every `every` steps, OUT_DIR/vis/step_NNNNNN.gif:
    training video 0 | the model's segmentation (it is a VideoSegmenter) | the true objects."""
    if not every:
        return []
    from mc_loci.render import write_overlay_gif

    video = ds[0]

    def picture(raw, step: int) -> None:
        was = raw.training
        try:
            ids = raw.segment(video)
        finally:
            raw.train(was)
        write_overlay_gif(Path(out_dir) / "vis" / f"step_{step:06d}.gif", video["rgb"], ids, truth=video.get("masks"))

    return [(int(every), picture)]


def check_train_config(tcfg: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """`tcfg` over `defaults`, every value checked (UsageError naming the key)."""
    out = {**defaults, **{k: v for k, v in tcfg.items() if v is not None}}
    unknown = set(out) - set(defaults)
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    for key, default in defaults.items():
        value = out[key]
        if isinstance(default, bool) or isinstance(default, str):
            continue
        if isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise UsageError(f"{key} must be an integer, got {value!r}")
            low = 0 if key == "seed" or key.endswith("_every") else 1
            if value < low:
                raise UsageError(f"{key} must be >= {low}, got {value}")
            if key in MAX_TRAIN and value > MAX_TRAIN[key]:
                raise UsageError(f"{key} must be at most {MAX_TRAIN[key]}, got {value}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float | np.floating) \
                    or not math.isfinite(float(value)):
                raise UsageError(f"{key} must be a finite number, got {value!r}")
            if float(value) < 0 or (key in ("lr", "sigma") and float(value) == 0):
                raise UsageError(f"{key} must be {'> 0' if key in ('lr', 'sigma') else '>= 0'}, got {value}")
    return out


def check_clip_frames(ds, clip_frames: int) -> None:
    """BadInputError naming the data set's meta.json when its videos are shorter than a clip."""
    if int(clip_frames) > ds.frames:
        where = ds.root / "meta.json" if ds.root.is_dir() else ds.root
        raise BadInputError(where, f"the videos have {ds.frames} frame(s), fewer than "
                                                   f"clip_frames={clip_frames}")


def train(data: str | Path, out_dir: str | Path, *, steps: int | None = None, resume: bool = False,
          device: str = "auto", seed: int | None = None, max_minutes: float | None = None,
          unsupervised: bool = False, model_config: Mapping[str, Any] | None = None,
          train_config: Mapping[str, Any] | None = None, bg_checkpoint: str | Path | None = None,
          quiet: bool | None = None, size: int | None = None) -> TrainResult:
    """Train a slot segmenter on the moving-shapes folder `data` into `out_dir`; returns the
    :class:`mc_core.training.TrainResult` (``result.checkpoint`` is the final checkpoint).

    `model_config` / `train_config` hold the options to set (:class:`SlotSegmenterConfig`,
    :data:`DEFAULT_TRAIN`); a None value means "the default". ``unsupervised=True`` trains without
    the true masks and fills the options left unset from :data:`UNSUPERVISED_RECIPE` /
    :data:`UNSUPERVISED_TRAIN`. With ``background="learned"``, `bg_checkpoint` is a pretrained
    ``loci-background`` checkpoint (``mc loci pretrain-bg``); its module is frozen inside the
    segmenter and its weights are stored in the segmenter's checkpoints. `data` may be a
    Loci-Segmented HDF5 file, its frames resized to `size` (:func:`mc_loci.data.open_data`)."""
    import torch

    from mc_core.checkpoint import fingerprint_files
    from mc_core.factory import create_model
    from mc_core.training import TrainSettings, TrainTask, fit
    from mc_loci.data import open_data
    from mc_loci.interface import TASK, VideoSegmenter
    from mc_loci.models.slot_segmenter import MODEL_NAME, SlotSegmenterConfig

    mdict = {k: v for k, v in dict(model_config or {}).items() if v is not None}
    tgiven = {k: v for k, v in dict(train_config or {}).items() if v is not None}
    if unsupervised:
        if float(tgiven.get("mask_weight", 0.0)) > 0:
            raise UsageError("unsupervised training uses no true masks: mask_weight must be 0")
        recipe = dict(UNSUPERVISED_RECIPE)
        if not mdict.get("depth_input", True):
            recipe["background"] = "median"
        mdict = {**recipe, **mdict}
        tgiven = {**UNSUPERVISED_TRAIN, **tgiven}
    if steps is not None:
        tgiven["steps"] = steps
    if seed is not None:
        tgiven["seed"] = seed
    tcfg = check_train_config(tgiven, DEFAULT_TRAIN)
    if float(tcfg["mask_weight"]) <= 0 and float(tcfg["recon_weight"]) <= 0:
        raise UsageError("mask_weight and recon_weight cannot both be 0 (nothing to train)")
    if tcfg["recon_loss"] not in RECON_LOSSES:
        raise UsageError(f"recon_loss must be one of {', '.join(RECON_LOSSES)}, got {tcfg['recon_loss']!r}")
    if mdict.get("background") == "farthest" and not mdict.get("depth_input", True):
        raise UsageError("background 'farthest' needs depth input (depth_input=True)")
    learned = mdict.get("background") == "learned"
    if learned and bg_checkpoint is None:
        raise UsageError("background 'learned' needs bg_checkpoint (a loci-background checkpoint)")
    if not learned and bg_checkpoint is not None:
        raise UsageError("bg_checkpoint is only used with background 'learned'")
    bg_meta, bg_state = {}, None
    if learned:
        from mc_loci.models.background import load_background_and_checkpoint

        bg_model, bg_ck = load_background_and_checkpoint(bg_checkpoint)
        mdict["bg_model"] = bg_model.config.to_dict()
        bg_state = bg_model.state_dict()
        bg_meta = {"bg_checkpoint": str(bg_checkpoint), "bg_weights_sha256": bg_ck.weights_sha256}
    try:
        mcfg = SlotSegmenterConfig.from_dict(mdict)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad model config: {exc}") from None

    ds = open_data(data, size=size)
    check_clip_frames(ds, tcfg["clip_frames"])
    arrays = prepare_arrays(ds, mcfg.background)
    if "masks" not in arrays and float(tcfg["mask_weight"]) > 0:
        raise BadInputError(ds.root, "the data set has no instance masks: train without them (unsupervised)")
    torch.manual_seed(int(tcfg["seed"]))
    model = create_model(MODEL_NAME, mcfg.to_dict(), task=TASK, protocol=VideoSegmenter)
    if bg_state is not None:
        model.background_module.load_state_dict(bg_state)

    def loss(model, ctx):
        batch = clip_batch(arrays, ctx.rng(), int(tcfg["batch_size"]), int(tcfg["clip_frames"]), ctx.device)
        out_m = model(batch["rgb"], batch["depth"], batch["bg"])
        return loss_terms(out_m, batch, mcfg.num_slots, float(tcfg["mask_weight"]), float(tcfg["recon_weight"]),
                          recon_loss=str(tcfg["recon_loss"]), sigma=float(tcfg["sigma"]),
                          usage_weight=float(tcfg["usage_weight"]))

    meta = {"data": str(Path(data)), "data_sha256": fingerprint_files(ds.input_files),
            "n_videos": len(ds), "frames": ds.frames, "size": ds.size, **bg_meta}
    lr = float(tcfg["lr"])
    task = TrainTask(model=model, model_name=MODEL_NAME, config={"model": mcfg.to_dict(), "train": tcfg},
                     make_optimizer=lambda m: torch.optim.Adam([p for p in m.parameters() if p.requires_grad],
                                                               lr=lr),
                     loss=loss, meta=meta, every=progress_pictures(ds, out_dir, int(tcfg["vis_every"])))
    settings = TrainSettings(out_dir=out_dir, steps=int(tcfg["steps"]), device=device, resume=resume,
                             max_minutes=max_minutes, seed=int(tcfg["seed"]), ckpt_every=int(tcfg["ckpt_every"]),
                             grad_clip=float(tcfg["grad_clip"]) or None, desc="train", quiet=quiet)
    return fit(task, settings)
