"""Loci-Segmented's training stages, each a run of mc-core's one training loop
(:func:`mc_core.training.fit`), configured by a stage config (:mod:`.configs`):

1. ``pretrain-{mask,depth,rgb}-decoder``: each decoder on single objects of the training videos
   (an object encoder reads the true object; ``--pretrain-objects``);
2. ``pretrain-encoder-decoder-stage1[-depth]``: the slot encoder with the pretrained decoders, one
   pass, no hyper-networks, the true objects seeding the slots (``--load-mask/--load-depth/--load-rgb``);
3. ``pretrain-encoder-decoder-stage2[-depth]``: ``passes`` passes with the hyper-networks (``--load-stage1``);
4. ``pretrain-background[-depth]``: the background module, no labels (``--pretrain-bg``);
5. ``loci-s[-depth]``: everything over clips, no labels: reconstruction, prediction, the
   slot-location regularisation and the proposal network (``--load-stage1`` the stage-2 checkpoint,
   ``--load-bg``, ``--load-proposal``).

Stages 1-3 learn from the true object masks of the training videos, as the paper's pretraining on
single objects does; stages 4 and 5 use none.

    from mc_loci.stages import run_stage
    run_stage("pretrain-mask-decoder", "pan_train", "runs/mask", max_minutes=5)
    run_stage("pretrain-encoder-decoder-stage1-depth", "pan_train", "runs/s1",
              load={"mask": "runs/mask/checkpoints/final", ...})
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mc_core.errors import BadInputError, UsageError
from mc_loci.stages.configs import PIPELINE, STAGES, load_config, shipped_configs

if TYPE_CHECKING:
    from mc_core.training import TrainResult

__all__ = ["LOADS", "PIPELINE", "STAGES", "load_config", "run_stage", "shipped_configs"]

# the checkpoints (seed flags) each kind of stage may load
LOADS = {"mask": (), "depth": (), "rgb": (), "stage1": ("mask", "depth", "rgb"), "stage2": ("stage1",),
         "background": (), "loci": ("stage1", "bg", "proposal")}
# what each kind of stage trains (state-dict prefixes; the rest is frozen)
TRAINS = {"mask": ("mask_decoder.", "mask_encoder."), "depth": ("depth_decoder.", "depth_encoder."),
          "rgb": ("rgb_decoder.", "rgb_encoder."),
          "stage1": ("encoder.", "mask_decoder.", "depth_decoder.", "rgb_decoder.", "bg_gate"),
          "stage2": ("encoder.", "mask_decoder.", "depth_decoder.", "rgb_decoder.", "bg_gate"),
          "loci": ("encoder.", "mask_decoder.", "depth_decoder.", "rgb_decoder.", "bg_gate", "predictor.",
                   "proposal.")}

DEFAULT_STAGE_TRAIN: dict[str, Any] = {
    "steps": 2000, "batch_size": 16, "lr": 1e-3, "clip_frames": 3, "passes": 1, "hyper": False,
    "grad_clip": 1.0, "ckpt_every": 100, "seed": 0,
    # loci-s loss weights
    "recon_weight": 10.0, "prediction_weight": 5.0, "location_weight": 1.0, "gate_weight": 0.01,
    "saturation_weight": 0.01, "proposal_weight": 0.1,
}


def _state_dict_of(path: str | Path, part: str) -> tuple[dict, Any]:
    from mc_core.checkpoint import load_checkpoint

    ck = load_checkpoint(path)
    if part == "bg" and ck.model == "loci-background":
        return {f"background.{k}": v for k, v in ck.state_dict.items()}, ck
    if ck.model != "loci-s":
        raise BadInputError(ck.path, f"checkpoint holds a {ck.model!r} model; --load-{part} needs a loci-s "
                                     + ("or loci-background " if part == "bg" else "") + "checkpoint")
    return ck.state_dict, ck


def _stage_flags(kind: str, pretrain_objects: bool, pretrain_bg: bool, source: str) -> None:
    if pretrain_objects and kind not in ("mask", "depth", "rgb", "stage1", "stage2"):
        raise UsageError(f"--pretrain-objects goes with the decoder and encoder-decoder stages, not {source}")
    if pretrain_bg and kind != "background":
        raise UsageError(f"--pretrain-bg goes with the background stage, not {source}")


def run_stage(config: str | Path | Mapping[str, Any], data: str | Path, out_dir: str | Path, *,
              load: Mapping[str, str | Path | None] | None = None, steps: int | None = None,
              max_minutes: float | None = None, resume: bool = False, device: str = "auto",
              seed: int | None = None, quiet: bool | None = None, size: int | None = None,
              pretrain_objects: bool = False, pretrain_bg: bool = False) -> TrainResult:
    """Run one stage (a config name, file or loaded config) on the training data `data` into `out_dir`.

    `load` maps the seed's flags (``mask``, ``depth``, ``rgb``, ``stage1``, ``bg``, ``proposal``) to
    checkpoints; each stage takes the ones in :data:`LOADS`."""
    cfg = dict(config) if isinstance(config, Mapping) else load_config(config)
    stage = cfg["stage"]
    kind = STAGES[stage]
    _stage_flags(kind, pretrain_objects, pretrain_bg, stage)
    load = {k: v for k, v in dict(load or {}).items() if v is not None}
    wrong = sorted(set(load) - set(LOADS[kind]))
    if wrong:
        allowed = ", ".join(f"--load-{x}" for x in LOADS[kind]) or "none"
        raise UsageError(f"stage {stage} takes no --load-{wrong[0]} (it takes: {allowed})")
    tgiven = {k: v for k, v in cfg.get("train", {}).items() if v is not None}
    if steps is not None:
        tgiven["steps"] = steps
    if seed is not None:
        tgiven["seed"] = seed
    if kind == "background":
        from mc_loci.background_train import pretrain_background

        return pretrain_background(data, out_dir, steps=None, resume=resume, device=device, max_minutes=max_minutes,
                                   model_config=cfg.get("model", {}), train_config=tgiven, quiet=quiet, size=size)
    return _run_loci_stage(stage, kind, cfg, tgiven, data, out_dir, load, resume=resume, device=device,
                           max_minutes=max_minutes, quiet=quiet, size=size)


def _run_loci_stage(stage, kind, cfg, tgiven, data, out_dir, load, *, resume, device, max_minutes, quiet, size):
    import torch

    from mc_core.checkpoint import fingerprint_files
    from mc_core.factory import create_model
    from mc_core.training import TrainSettings, TrainTask, fit
    from mc_loci.data import open_data
    from mc_loci.interface import TASK, VideoSegmenter
    from mc_loci.models.loci_segmented import MODEL_NAME, LociConfig
    from mc_loci.stages import batches, losses
    from mc_loci.training import check_clip_frames, check_train_config, prepare_arrays

    tcfg = check_train_config(tgiven, DEFAULT_STAGE_TRAIN)
    mdict = dict(cfg.get("model", {}))
    loaded: dict[str, tuple[dict, Any]] = {part: _state_dict_of(path, part) for part, path in load.items()}
    if "bg" in loaded:  # the background module's sizes come from its checkpoint
        bg_ck = loaded["bg"][1]
        bg_cfg = dict(bg_ck.config["model"].get("bg_model", {}) if bg_ck.model == "loci-s" else bg_ck.config["model"])
        depth_in = bg_cfg.pop("depth_input", mdict.get("depth_input", True))
        if bool(depth_in) != bool(mdict.get("depth_input", True)):
            raise BadInputError(bg_ck.path, f"the background module {'reads' if depth_in else 'does not read'} depth; "
                                            f"stage {stage} {'does not' if depth_in else 'does'}")
        mdict["bg_model"] = bg_cfg
    try:
        mcfg = LociConfig.from_dict(mdict)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad loci-s model config: {exc}") from None
    ds = open_data(data, size=size if size is not None else (mcfg.size if Path(str(data)).is_file() else None))
    if ds.size != mcfg.size:
        raise BadInputError(ds.root, f"frames are {ds.size}x{ds.size}; the config's model is {mcfg.size}x{mcfg.size}")
    torch.manual_seed(int(tcfg["seed"]))
    model = create_model(MODEL_NAME, mcfg.to_dict(), task=TASK, protocol=VideoSegmenter)
    meta: dict[str, Any] = {"stage": stage, "data": str(Path(data)), "data_sha256": fingerprint_files(ds.input_files),
                            "n_videos": len(ds), "frames": ds.frames, "size": ds.size}
    for part, (sd, ck) in loaded.items():
        try:
            model.load_parts(sd, "stage1" if part == "stage1" else part, str(ck.path))
        except ValueError as exc:
            raise BadInputError(ck.path, str(exc).split(": ", 1)[-1]) from None
        meta[f"load_{part}"] = str(ck.path)
        meta[f"load_{part}_sha256"] = ck.weights_sha256
    trains = TRAINS[kind]
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(trains))

    if kind in ("mask", "depth", "rgb", "stage1", "stage2"):
        arrays = ds.arrays() if kind in ("mask", "depth", "rgb") else prepare_arrays(ds, "farthest")
        if "masks" not in arrays:
            raise BadInputError(ds.root, f"stage {stage} pretrains on the true objects: the data set has no masks")
    else:
        check_clip_frames(ds, tcfg["clip_frames"])
        arrays = {k: v for k, v in ds.arrays().items() if k in ("rgb", "depth")}  # no labels
    if kind in ("mask", "depth", "rgb"):
        index = batches.object_index(arrays["masks"])
        if not len(index):
            raise BadInputError(ds.root, "no object of at least 8 pixels in the data set")

        def loss(model, ctx):
            return losses.decoder_loss(model, kind, batches.object_batch(arrays, index, ctx.rng(),
                                                                          int(tcfg["batch_size"]), ctx.device))
    elif kind in ("stage1", "stage2"):
        passes = 1 if kind == "stage1" else int(tcfg["passes"])
        hyper = kind == "stage2" and bool(tcfg["hyper"])

        def loss(model, ctx):
            batch = batches.frame_batch(arrays, ctx.rng(), int(tcfg["batch_size"]), mcfg.num_slots, ctx.device)
            return losses.encoder_decoder_loss(model, batch, passes, hyper)
    else:
        from mc_loci.training import clip_batch

        weights = {k: float(tcfg[f"{k}_weight"]) for k in ("recon", "prediction", "location", "gate", "saturation",
                                                            "proposal")}

        def loss(model, ctx):
            batch = clip_batch(arrays, ctx.rng(), int(tcfg["batch_size"]), int(tcfg["clip_frames"]), ctx.device)
            return losses.loci_loss(model, batch["rgb"], batch["depth"], int(tcfg["passes"]), bool(tcfg["hyper"]),
                                    weights)

    lr = float(tcfg["lr"])
    task = TrainTask(model=model, model_name=MODEL_NAME,
                     config={"model": mcfg.to_dict(), "train": tcfg, "stage": stage},
                     make_optimizer=lambda m: torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=lr),
                     loss=loss, meta=meta)
    settings = TrainSettings(out_dir=out_dir, steps=int(tcfg["steps"]), device=device, resume=resume,
                             max_minutes=max_minutes, seed=int(tcfg["seed"]), ckpt_every=int(tcfg["ckpt_every"]),
                             grad_clip=float(tcfg["grad_clip"]) or None, desc=stage, quiet=quiet)
    return fit(task, settings)
