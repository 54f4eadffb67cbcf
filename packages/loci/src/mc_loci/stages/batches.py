"""Batches for the Loci-Segmented stages, each drawn from a numpy generator (so a resumed run sees
the same batches): single objects (decoder pretraining), frames with their true objects as slots
(encoder-decoder pretraining), and clips without labels (background and final training)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

MIN_OBJECT_AREA = 8  # pixels; smaller (mostly hidden) objects are not pretraining examples


def object_index(masks: np.ndarray) -> np.ndarray:
    """(M,3) rows (video, frame, id) of every object with at least MIN_OBJECT_AREA visible pixels."""
    rows = []
    for n in range(masks.shape[0]):
        for t in range(masks.shape[1]):
            ids, counts = np.unique(masks[n, t], return_counts=True)
            rows += [(n, t, int(i)) for i, c in zip(ids, counts) if i != 0 and c >= MIN_OBJECT_AREA]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def _frames(arrays, vids, ts, device):
    rgb = torch.as_tensor(arrays["rgb"][vids, ts], dtype=torch.float32, device=device).permute(0, 3, 1, 2) / 255.0
    depth = torch.as_tensor(arrays["depth"][vids, ts], dtype=torch.float32, device=device)[:, None]
    return rgb, depth


def object_batch(arrays: dict[str, np.ndarray], index: np.ndarray, rng: np.random.Generator, batch_size: int,
                 device="cpu") -> dict[str, Any]:
    """`batch_size` single objects: mask (N,1,H,W) of the object, the frame's rgb and depth and the
    object's position (from its mask, :func:`positions_of_masks`)."""
    from mc_loci.models.loci_segmented.slots import positions_of_masks

    rows = index[rng.integers(0, len(index), size=batch_size)]
    vids, ts, ids = rows[:, 0], rows[:, 1], rows[:, 2]
    rgb, depth = _frames(arrays, vids, ts, device)
    mask = torch.as_tensor(arrays["masks"][vids, ts] == ids[:, None, None], dtype=torch.float32, device=device)
    return {"mask": mask[:, None], "rgb": rgb, "depth": depth, "position": positions_of_masks(mask, depth[:, 0])}


def frame_batch(arrays: dict[str, np.ndarray], rng: np.random.Generator, batch_size: int, num_slots: int,
                device="cpu", jitter: float = 0.06) -> dict[str, Any]:
    """`batch_size` frames with their true objects as slot targets (encoder-decoder pretraining):
    rgb, depth, bg / bg_depth (the video's farthest-surface estimate), target (B,H,W) (0 background,
    slot k -> k + 1, objects beyond num_slots -100) and the slots' starting positions: each object's
    true position jittered, its depth read at the jittered centre (as object discovery does)."""
    from mc_loci.models.loci_segmented.slots import clamp_position, positions_of_masks

    n, t = arrays["rgb"].shape[:2]
    vids = rng.integers(0, n, size=batch_size)
    ts = rng.integers(0, t, size=batch_size)
    rgb, depth = _frames(arrays, vids, ts, device)
    masks = arrays["masks"][vids, ts]
    h, w = masks.shape[1:]
    target = np.zeros(masks.shape, np.int64)
    pos = torch.zeros(batch_size, num_slots, 4, device=device)
    pos[..., 2], pos[..., 3] = 0.5, 0.12
    active = torch.zeros(batch_size, num_slots, device=device)
    for b in range(batch_size):
        ids = [int(i) for i in np.unique(masks[b]) if i != 0 and (masks[b] == i).sum() >= 2]
        rng.shuffle(ids)
        for k, i in enumerate(ids):
            if k >= num_slots:
                target[b][masks[b] == i] = -100
                continue
            target[b][masks[b] == i] = k + 1
            m = torch.as_tensor(masks[b] == i, dtype=torch.float32, device=device)[None]
            p = positions_of_masks(m, depth[b:b + 1, 0])[0]
            p[:2] += torch.as_tensor(rng.normal(0, jitter, 2), dtype=torch.float32, device=device)
            p[3] = 0.12
            x = int(np.clip((float(p[0]) + 1) / 2 * w, 0, w - 1))
            y = int(np.clip((float(p[1]) + 1) / 2 * h, 0, h - 1))
            p[2] = depth[b, 0, y, x]
            pos[b, k] = clamp_position(p)
            active[b, k] = 1.0
    bg = torch.as_tensor(arrays["bg"][vids], dtype=torch.float32, device=device).permute(0, 3, 1, 2) / 255.0
    bg_depth = torch.as_tensor(arrays["bg_depth"][vids], dtype=torch.float32, device=device)[:, None]
    return {"rgb": rgb, "depth": depth, "target": torch.as_tensor(target, device=device), "position": pos,
            "active": active, "bg": bg, "bg_depth": bg_depth}
