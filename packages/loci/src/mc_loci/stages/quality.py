"""Held-out quality of a stage's checkpoint (what `benchmarks/loci_segmented.py` reports per stage):
the decoders' mask IoU and PSNR of depth and RGB on single objects, the encoder-decoder's PSNR and
foreground IoU on frames seeded with the true objects, and the final model's reconstruction PSNR
on whole videos (no labels). All in eval mode (binary Gestalt codes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def stage_quality(checkpoint: str | Path, data: str | Path, *, samples: int = 256, seed: int = 0) -> dict[str, float]:
    """Metrics of `checkpoint` (a loci-s checkpoint of any stage) on `data` (held-out videos)."""
    import torch

    from mc_core.factory import load_model_and_checkpoint
    from mc_loci.data import open_eval_data
    from mc_loci.interface import TASK, VideoSegmenter
    from mc_loci.models.loci_segmented.model import video_tensors
    from mc_loci.stages import STAGES, batches, losses
    from mc_loci.training import prepare_arrays

    model, ck = load_model_and_checkpoint(checkpoint, task=TASK, protocol=VideoSegmenter, device="cpu")
    model.eval()
    kind = STAGES.get(str(ck.config.get("stage")), "loci")
    ds = open_eval_data(data, size=None, checkpoint=checkpoint)
    out: dict[str, Any] = {}
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        if kind in ("mask", "depth", "rgb"):
            arrays = ds.arrays()
            index = batches.object_index(arrays["masks"])
            terms = losses.decoder_loss(model, kind, batches.object_batch(arrays, index, rng, samples))
            key = {"mask": "mask_iou", "depth": "depth_psnr", "rgb": "rgb_psnr"}[kind]
            out[key] = float(terms[key])
        elif kind in ("stage1", "stage2"):
            arrays = prepare_arrays(ds, "farthest")
            passes = 1 if kind == "stage1" else int(ck.config["train"].get("passes", model.config.passes))
            hyper = kind == "stage2" and bool(ck.config["train"].get("hyper", False))
            vals: dict[str, list[float]] = {}
            for _ in range(max(1, samples // 32)):
                b = batches.frame_batch(arrays, rng, 32, model.config.num_slots, jitter=0.06)
                terms = losses.encoder_decoder_loss(model, b, passes, hyper)
                for k in ("rgb_psnr", "depth_psnr", "fg_iou", "pixel_acc"):
                    vals.setdefault(k, []).append(float(terms[k]))
            out = {k: float(np.mean(v)) for k, v in vals.items()}
        else:
            rgb_se, depth_se, n = 0.0, 0.0, 0
            for i in range(len(ds)):
                rgb, depth = video_tensors(ds[i], "cpu", model.config.size)
                res = model.run_video(rgb, depth)
                rec = torch.stack([f["rgb"] for f in res["frames"]], 1)
                rdep = torch.stack([f["depth"] for f in res["frames"]], 1)
                rgb_se += float(((rec - rgb) ** 2).mean())
                depth_se += float(((rdep - depth) ** 2).mean()) if depth is not None else float("nan")
                n += 1
            out = {"rgb_psnr": float(-10 * np.log10(rgb_se / n)), "depth_psnr": float(-10 * np.log10(depth_se / n))}
    return out
