"""Build the spatial task JSONs (Task1 multi/concat, Task2A, Task2B) from an x3 data root.

Pairing modes (which (reference A, query B) view pairs of one object instance become samples):
- `anchor`: the first `anchor_k` views whose mask is non-empty are the references; every other
  view of the instance is a query (so an instance with 5 views and anchor_k=1 gives 4 pairs).
- `all`: every view with a non-empty mask is a reference for every other view (ordered pairs).
A reference must show the object (non-empty mask); a query may not (Task1 answer NOT_VISIBLE,
and those pairs are Task2A). Task2B uses every view whose mask is non-empty: [original, inpainted].
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_spatial_vlm.answers import NOT_VISIBLE, format_point
from mc_spatial_vlm.data.x3 import Instance, View, image_size, read_mask, read_rgb, scan_instances

MODES = ("anchor", "all")
SPLITS = ("train", "val")

PROMPT_T1_MULTI = (
    "The first image shows an object highlighted in red. Find the same object in the second image, "
    "which is another view of the same scene. If it is visible there, answer with one point on it as "
    "[(x, y)], with x and y normalised to [0, 1] relative to the second image; if it is not visible, "
    "answer NOT_VISIBLE."
)
PROMPT_T1_CONCAT = (
    "The image shows two views of the same scene side by side. The object highlighted in red in the "
    "left half is at point ({x:.3f}, {y:.3f}) of the whole image. If the same object is visible in the "
    "right half, answer with one point on it as [(x, y)], with x and y normalised to [0, 1] relative "
    "to the whole image; if it is not visible, answer NOT_VISIBLE."
)
PROMPT_T2B = (
    "The first image is a view of a scene; the second is the same view after one object was removed. "
    "Point at the place where the removed object was, as [(x, y)] with x and y normalised to [0, 1] "
    "relative to the second image."
)


def gt_point(mask: np.ndarray, seed: int, key: str) -> tuple[float, float] | None:
    """The seed's ground-truth point of a mask, normalised to [0, 1] (pixel centres); None if empty.

    The centre of the tight bounding box of mask>0 if that pixel is in the mask, else a mask pixel
    drawn uniformly at random by a generator seeded with (`seed`, crc32(`key`)), so the draw does
    not depend on the order in which samples are built.
    """
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    h, w = mask.shape[:2]
    cx = (int(xs.min()) + int(xs.max())) // 2
    cy = (int(ys.min()) + int(ys.max())) // 2
    if not mask[cy, cx]:
        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
        k = int(rng.integers(ys.size))
        cx, cy = int(xs[k]), int(ys[k])
    return (cx + 0.5) / w, (cy + 0.5) / h


def mark(img: np.ndarray, mask: np.ndarray, alpha: float) -> np.ndarray:
    """The image with a red overlay of opacity `alpha` on mask pixels."""
    out = img.astype(np.float32)
    out[mask] = (1.0 - alpha) * out[mask] + alpha * np.array([255.0, 0.0, 0.0])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _save(arr: np.ndarray, path: Path, **kw: Any) -> None:
    """Write an image atomically (temporary name, then rename); existing files are kept (restart)."""
    from PIL import Image

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        Image.fromarray(arr).save(tmp, **kw)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class _ViewData:
    """Lazily loaded pixels of one view (RGB, mask, GT point)."""

    def __init__(self, inst: Instance, view: View, use_dilated: bool, seed: int):
        self.inst, self.view = inst, view
        self.mask_path = view.mask_path(use_dilated)
        if self.mask_path is None:
            raise BadInputError(inst.path / f"{view.stem}_mask.png", "missing mask")
        self.size = image_size(view.original)
        self.mask = read_mask(self.mask_path, expect_size=self.size, image_path=view.original)
        self.visible = bool(self.mask.any())
        self.point = gt_point(self.mask, seed, str(self.mask_path))
        self._rgb: np.ndarray | None = None

    @property
    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            self._rgb = read_rgb(self.view.original)
        return self._rgb


def _pairs(views: list[_ViewData], mode: str, anchor_k: int) -> list[tuple[_ViewData, _ViewData]]:
    visible = [v for v in views if v.visible]
    anchors = visible[:anchor_k] if mode == "anchor" else visible
    return [(a, b) for a in anchors for b in views if b is not a]


def _conv(prompt: str, answer: str) -> list[dict[str, str]]:
    return [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}]


def build_tasks(data_root: str | Path, out_dir: str | Path, *, mode: str = "anchor", anchor_k: int = 1,
                alpha: float = 0.45, use_dilated_mask: bool = False, emit_concat: bool = True, seed: int = 0,
                splits: tuple[str, ...] = SPLITS, num_shards: int = 1, shard_index: int = 0,
                progress: Callable | None = None) -> dict[str, int]:
    """Build all task JSONs and images; returns the number of samples per JSON file written.

    With `num_shards` > 1 only every num_shards-th instance (from `shard_index`) is built and the
    JSONs go to `out_dir/shards/<name>.shard-<i>-of-<n>.json`; a final run without sharding writes the
    full JSONs and reuses every image the shards wrote (existing images are never rewritten).
    """
    from PIL import Image

    from mc_core.atomic import write_json
    from mc_core.options import shard_slice

    if mode not in MODES:
        raise UsageError(f"unknown --mode {mode!r}; choose from {', '.join(MODES)}")
    if anchor_k < 1:
        raise UsageError("--anchor-k must be at least 1")
    if not 0.0 <= alpha <= 1.0:
        raise UsageError("--alpha must be in [0, 1]")
    root = Path(data_root)
    if not root.is_dir():
        raise BadInputError(root, "data root not found")
    out = Path(out_dir).resolve()
    instances = {s: scan_instances(root, s) for s in splits}
    if not any(instances.values()):
        raise BadInputError(root, f"no x3 instances under {'/'.join(splits)}/<scene>/uid_<uid>/")
    counts: dict[str, int] = {}
    for split in splits:
        t1m: list[dict] = []
        t1c: list[dict] = []
        t2a: list[dict] = []
        t2b: list[dict] = []
        insts = shard_slice(instances[split], num_shards, shard_index)
        it = progress(insts, desc=f"build {split}") if progress else insts
        for inst in it:
            views = [_ViewData(inst, v, use_dilated_mask, seed) for v in inst.views]
            rel = Path(split) / inst.scene_id / f"uid_{inst.uid}"
            marked: dict[int, Path] = {}
            for a, b in _pairs(views, mode, anchor_k):
                if id(a) not in marked:
                    p = out / "marked_abs" / rel / f"{a.view.stem}_marked.png"
                    if not p.exists():  # restart: images already written are kept
                        _save(mark(a.rgb, a.mask, alpha), p, format="PNG", compress_level=1)
                    marked[id(a)] = p
                a_marked = marked[id(a)]
                answer = format_point(*b.point) if b.visible else NOT_VISIBLE
                sid = f"{split}/{inst.scene_id}/uid_{inst.uid}/{a.view.stem}->{b.view.stem}"
                common = {"query_original": str(b.view.original), "reference_original": str(a.view.original),
                          "query_mask": str(b.mask_path), "gt_point": list(b.point) if b.visible else None}
                t1m.append({"id": sid, "task": "t1_multi", "image": [str(a_marked), str(b.view.original)],
                            **common, "conversations": _conv(PROMPT_T1_MULTI, answer)})
                if not b.visible:
                    t2a.append({"id": sid, "task": "t2a_multi", "image": [str(a_marked), str(b.view.original)],
                                **common, "conversations": _conv(PROMPT_T1_MULTI, NOT_VISIBLE)})
                if emit_concat:
                    cpath = out / "concat_abs" / rel / f"{a.view.stem}__{b.view.stem}_concat.jpg"
                    if not cpath.exists():
                        left = Image.open(a_marked).convert("RGB")
                        w, h = b.size
                        if left.size != (w, h):
                            left = left.resize((w, h), Image.BILINEAR)
                        both = np.concatenate([np.asarray(left), b.rgb], axis=1)
                        _save(both, cpath, format="JPEG", quality=90)
                    xl, yl = a.point
                    if b.visible:
                        xr, yr = b.point
                        c_answer = format_point(0.5 + xr * 0.5, yr)
                        c_gt = [0.5 + xr * 0.5, yr]
                    else:
                        c_answer, c_gt = NOT_VISIBLE, None
                    t1c.append({"id": sid, "task": "t1_concat", "image": str(cpath), **common, "gt_point": c_gt,
                                "reference_point": [xl * 0.5, yl],
                                "conversations": _conv(PROMPT_T1_CONCAT.format(x=xl * 0.5, y=yl), c_answer)})
            for v in views:
                if not v.visible:
                    continue
                if v.view.inpainted is None:
                    raise BadInputError(inst.path / f"{v.view.stem}_inpainted.png", "missing inpainted image")
                if image_size(v.view.inpainted) != v.size:
                    raise BadInputError(v.view.inpainted, f"inpainted size differs from {v.view.original}")
                sid = f"{split}/{inst.scene_id}/uid_{inst.uid}/{v.view.stem}"
                t2b.append({"id": sid, "task": "t2b_multi", "image": [str(v.view.original), str(v.view.inpainted)],
                            "query_original": str(v.view.inpainted), "query_mask": str(v.mask_path),
                            "gt_point": list(v.point), "conversations": _conv(PROMPT_T2B, format_point(*v.point))})
        files = {f"t1_{split}_multi.json": t1m, f"t2a_{split}_multi.json": t2a, f"t2b_{split}_multi.json": t2b}
        if emit_concat:
            files[f"t1_{split}_concat.json"] = t1c
        for name, samples in files.items():
            # the seed writes train Task2 files only when non-empty; val files always
            if not samples and split == "train" and name.startswith("t2"):
                continue
            if num_shards > 1:
                name = f"shards/{name[:-5]}.shard-{shard_index:03d}-of-{num_shards:03d}.json"
            write_json(out / name, samples)
            counts[name] = len(samples)
    return counts
