"""Build the spatial task JSONs (Task1 multi/concat, Task2A, Task2B) from an x3 data root.

The files, sample ids, pairs, prompts and answers are those of the seed's builder
(RoboRefer-FineTuning `tools/build_spatial_tasks_x3.py`) on the same data and seed:

- splits `train/` then `validation/` (or `val/`), scenes and `uid_*` folders sorted, views 01..05;
- ground-truth point of a view (`gt_point`): the tight box of mask > 0, its float centre
  `((x0 + x1) / 2, (y0 + y1) / 2)` if the pixel at the rounded centre is in the mask, else a mask
  pixel drawn by `rng.randrange(n)` over the mask pixels in row-major order, from ONE
  `random.Random(seed)` consumed view by view in the order above (the draw of a view depends on
  every earlier draw, as in the seed); normalised `((x + 0.5) / W, (y + 0.5) / H)`, clamped to
  [0, 1]; an empty mask is NOT_VISIBLE;
- pairs (`mode`): `anchor` pairs view `anchor_k` (a view index, 1-5) as the reference with every
  other view as the query; `allpairs` every view with every other; the reference need not show
  the object (its marked image then has no red);
- Task1 multi: every pair; Task2A: the pairs whose query mask is empty; Task1 concat: the pairs
  whose reference shows the object (unmarked reference left, query right; the prompt gives the
  reference point as `(xL * 0.5, yL)`; the answer is the same text as Task1 multi, over the query
  image); Task2B: every view with an inpainted image and a non-empty mask;
- `t1_{train,val}_multi.json` and (with concat) `t1_{train,val}_concat.json` always,
  `t2a/t2b_train_multi.json` only when non-empty, `t2a/t2b_val_multi.json` always.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError, UsageError
from mc_spatial_vlm.answers import NOT_VISIBLE, format_point
from mc_spatial_vlm.data.x3 import (
    SPLIT_FOLDERS,
    Instance,
    View,
    Warn,
    image_size,
    read_mask,
    read_rgb,
    scan_instances,
    split_folder,
    stderr_warning,
)

MODES = ("anchor", "allpairs")
CONCAT_ANSWERS = ("query", "full")  # the seed's answer over the query image; ours over the whole image
MODE_ALIASES = {"all": "allpairs"}
SPLITS = ("train", "val")
DEFAULT_SEED = 42  # the seed builder's default

PROMPT_T1_MULTI = (
    "You are given TWO separate images:\n"
    "- Image A (REFERENCE): the target object is highlighted (marked) in the image.\n"
    "- Image B (QUERY): you need to find the SAME object as in Image A.\n\n"
    "TASK:\n"
    "1. Look at Image A and understand which object is marked.\n"
    "2. Look at Image B and determine whether the SAME object is visible.\n"
    "3. If the object is visible in Image B, output ONE point coordinate on that object.\n"
    "4. If the object is NOT visible in Image B, answer NOT_VISIBLE.\n\n"
    "OUTPUT FORMAT:\n"
    "- If visible: answer with one coordinate in normalized [0,1] range relative to Image B only, "
    "in the form: [(x, y)]\n"
    "- If NOT visible: answer exactly: NOT_VISIBLE"
)
PROMPT_T1_CONCAT = (
    "You are given ONE concatenated image consisting of TWO halves:\n"
    "- LEFT HALF: reference image where the target object is indicated by a point.\n"
    "- RIGHT HALF: query image where you need to find the SAME object as in the left half.\n\n"
    "The reference point (on the left half) is located at normalized coordinate [(x, y)] "
    "= [({x:.3f}, {y:.3f})] with respect to the FULL concatenated image "
    "(width and height both normalized to [0,1]).\n\n"
    "TASK:\n"
    "1. Look at the left half and understand which object the reference point indicates.\n"
    "2. Look at the right half and determine whether the SAME object is visible.\n"
    "3. If the object is visible in the RIGHT half, output ONE point coordinate on that object "
    "in normalized [0,1] range with respect to the FULL concatenated image.\n"
    "4. If the object is NOT visible in the right half, answer NOT_VISIBLE.\n\n"
    "OUTPUT FORMAT:\n"
    "- If visible: answer with one coordinate in the form: [(x, y)] (normalized over the FULL "
    "concatenated image).\n"
    "- If NOT visible: answer exactly: NOT_VISIBLE"
)
PROMPT_T2B = (
    "You are given TWO images of the SAME view:\n"
    "- Image A: the original image.\n"
    "- Image B: the inpainted image where some region has been changed or removed.\n\n"
    "The target region corresponds to the area that was changed/removed in Image B.\n\n"
    "TASK:\n"
    "1. Compare Image A and Image B.\n"
    "2. In Image B, locate ONE point inside the changed/removed region.\n\n"
    "OUTPUT FORMAT:\n"
    "- Always output ONE coordinate in normalized [0,1] range relative to Image B only, "
    "in the form: [(x, y)]."
)


def gt_point(mask: np.ndarray, rng: random.Random) -> tuple[float, float] | None:
    """The seed's ground-truth point of a mask (see the module docstring); None if it is empty.

    `rng` is consumed (one `randrange`) only when the rounded box centre is not a mask pixel.
    """
    ys, xs = np.nonzero(np.asarray(mask) > 0)
    if xs.size == 0:
        return None
    h, w = mask.shape[:2]
    cx = 0.5 * (int(xs.min()) + int(xs.max()))
    cy = 0.5 * (int(ys.min()) + int(ys.max()))
    ix, iy = int(round(cx)), int(round(cy))  # half to even, as the seed's round()
    if 0 <= ix < w and 0 <= iy < h and mask[iy, ix]:
        x, y = cx, cy
    else:
        k = rng.randrange(xs.size)
        x, y = float(xs[k]), float(ys[k])
    return min(max((x + 0.5) / w, 0.0), 1.0), min(max((y + 0.5) / h, 0.0), 1.0)


def mark(img: np.ndarray, mask: np.ndarray, alpha: float) -> np.ndarray:
    """The image with a red overlay of opacity `alpha` on mask pixels (values truncated, as the seed)."""
    img = np.asarray(img)
    m = (np.asarray(mask) > 0)[:, :, None].astype(np.float64)
    overlay = img.copy()
    overlay[np.asarray(mask) > 0] = (255, 0, 0)
    return (img * (1 - alpha * m) + overlay * (alpha * m)).astype(np.uint8)


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two RGB images next to each other on a black canvas as high as the taller one."""
    h = max(left.shape[0], right.shape[0])
    out = np.zeros((h, left.shape[1] + right.shape[1], 3), dtype=np.uint8)
    out[: left.shape[0], : left.shape[1]] = left
    out[: right.shape[0], left.shape[1]:] = right
    return out


IMAGE_SETTINGS_FILE = ".mc_build_images"  # what made the images in out_dir (restart check)


def _save(arr: np.ndarray, path: Path, **kw: Any) -> None:
    """Write an image atomically (temporary name, then rename; a killed run's temporary is removed
    by the next write of the same image)."""
    from PIL import Image

    from mc_core.atomic import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, **kw)


class _Images:
    """Writes the task images; keeps those already in `out` when the same settings made them
    (recorded in IMAGE_SETTINGS_FILE, written before the first image)."""

    def __init__(self, out: Path, settings: dict[str, Any]):
        self.file, self.settings = out / IMAGE_SETTINGS_FILE, settings
        try:
            self.reuse = json.loads(self.file.read_text()) == settings
        except (OSError, ValueError):
            self.reuse = False
        self.recorded = self.reuse

    def wanted(self, path: Path) -> bool:
        return not (self.reuse and path.exists())

    def save(self, arr: np.ndarray, path: Path, **kw: Any) -> None:
        if not self.recorded:
            from mc_core.atomic import write_text

            write_text(self.file, json.dumps(self.settings))
            self.recorded = True
        _save(arr, path, **kw)


@dataclass
class _ViewData:
    view: View
    size: tuple[int, int]
    point: tuple[float, float] | None

    def mask(self) -> np.ndarray:
        return read_mask(self.view.mask, expect_size=self.size, image_path=self.view.original)


def _conv(prompt: str, answer: str) -> list[dict[str, str]]:
    return [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}]


def _pairs(views: list[_ViewData], mode: str, anchor_k: int):
    if mode == "anchor":
        ref = next((v for v in views if v.view.view == anchor_k), None)
        return [] if ref is None else [(ref, q) for q in views if q.view.view != anchor_k]
    return [(r, q) for r in views for q in views if r.view.view != q.view.view]


def _load_views(inst: Instance, rng: random.Random) -> list[_ViewData]:
    out = []
    for v in inst.views:
        size = image_size(v.original)
        mask = read_mask(v.mask, expect_size=size, image_path=v.original)
        out.append(_ViewData(v, size, gt_point(mask, rng)))
    return out


def _instance_samples(inst: Instance, views: list[_ViewData], out: Path, *, mode: str, anchor_k: int,
                      alpha: float, emit_concat: bool, writer: _Images,
                      concat_answer: str = "query") -> dict[str, list[dict[str, Any]]]:
    rel = Path(inst.folder) / inst.scene_id / f"uid_{inst.uid}"
    marked: dict[int, str] = {}
    for v in views:  # the seed writes a marked image of every view
        p = out / "marked_abs" / rel / f"{v.view.stem}_marked.png"
        if writer.wanted(p):
            writer.save(mark(read_rgb(v.view.original), v.mask(), alpha), p, format="PNG")
        marked[v.view.view] = str(p)
    t1m: list[dict] = []
    t1c: list[dict] = []
    t2a: list[dict] = []
    t2b: list[dict] = []
    for ref, q in _pairs(views, mode, anchor_k):
        base = (f"{inst.scene_id}_uid{inst.uid}_A{ref.view.view:02d}{ref.view.frame}"
                f"_B{q.view.view:02d}{q.view.frame}")
        answer = NOT_VISIBLE if q.point is None else format_point(*q.point)
        images = [marked[ref.view.view], str(q.view.original)]
        t1m.append({"id": f"T1_MULTI_{base}", "task": "t1_multi", "image": images,
                    "query_original": str(q.view.original), "conversations": _conv(PROMPT_T1_MULTI, answer)})
        if q.point is None:
            t2a.append({"id": f"T2A_MULTI_{base}", "task": "t2a_multi", "image": list(images),
                        "query_original": str(q.view.original),
                        "conversations": _conv(PROMPT_T1_MULTI, NOT_VISIBLE)})
        if emit_concat and ref.point is not None:
            xl, yl = ref.point
            cpath = (out / "concat_abs" / rel /
                     f"{ref.view.view:02d}{ref.view.frame}_to_{q.view.view:02d}{q.view.frame}_concat.jpg")
            if writer.wanted(cpath):
                writer.save(side_by_side(read_rgb(ref.view.original), read_rgb(q.view.original)), cpath, format="JPEG")
            c_answer = answer
            if concat_answer == "full" and q.point is not None:  # ours: over the whole image, as asked
                c_answer = format_point(0.5 + q.point[0] * 0.5, q.point[1])
            t1c.append({"id": f"T1_CONCAT_{base}", "task": "t1_concat", "image": str(cpath),
                        "query_original": str(q.view.original),
                        "conversations": _conv(PROMPT_T1_CONCAT.format(x=xl * 0.5, y=yl), c_answer)})
    for v in views:
        if v.view.inpainted is None or v.point is None:
            continue
        t2b.append({"id": f"T2B_MULTI_{inst.scene_id}_uid{inst.uid}_K{v.view.view:02d}{v.view.frame}",
                    "task": "t2b_multi", "image": [str(v.view.original), str(v.view.inpainted)],
                    "query_original": str(v.view.inpainted),
                    "conversations": _conv(PROMPT_T2B, format_point(*v.point))})
    return {"t1_multi": t1m, "t1_concat": t1c, "t2a_multi": t2a, "t2b_multi": t2b}


def _write_json(path: Path, samples: list[dict[str, Any]]) -> None:
    from mc_core.atomic import write_text

    write_text(path, json.dumps(samples, indent=2, ensure_ascii=False))  # the seed's json.dump settings


def build_tasks(data_root: str | Path, out_dir: str | Path, *, mode: str = "anchor", anchor_k: int = 1,
                alpha: float = 0.45, use_dilated_mask: bool = True, emit_concat: bool = True,
                concat_answer: str = "query", seed: int = DEFAULT_SEED, num_shards: int = 1, shard_index: int = 0,
                progress: Callable | None = None, warn: Warn | None = stderr_warning) -> dict[str, int]:
    """Build all task JSONs and images; returns the number of samples per JSON file written.

    `concat_answer`: "query" writes the concat answer as the seed does (the query point over the
    query image, the same text as Task1 multi); "full" writes it over the whole side-by-side image,
    `(0.5 + x * 0.5, y)`, as the prompt asks and the evaluator reads it (not the seed's files).
    A missing split folder and an empty task set are reported through `warn`. Images already in
    `out_dir` are kept when they were made from the same data root, `alpha` and mask choice
    (recorded as JSON in `out_dir/.mc_build_images`), else rewritten. With `num_shards`
    > 1 only every num_shards-th instance (from `shard_index`) gets its images and samples (the
    random draws of the others are still made, so answers are those of the full build) and the
    JSONs go to `out_dir/shards/<name>.shard-<i>-of-<n>.json`; a final run without sharding writes
    the full JSONs and reuses every image the shards wrote (existing images are never rewritten).
    """
    from mc_core.shards import check_shard

    if concat_answer not in CONCAT_ANSWERS:
        raise UsageError(f"concat_answer must be one of {', '.join(CONCAT_ANSWERS)}, got {concat_answer!r}")
    mode = MODE_ALIASES.get(mode, mode)
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if anchor_k < 1:
        raise UsageError(f"anchor_k must be a view index >= 1, got {anchor_k}")
    if not 0.0 <= alpha <= 1.0:
        raise UsageError(f"alpha must be in [0, 1], got {alpha}")
    check_shard(num_shards, shard_index)
    warn = warn or (lambda _m: None)
    root = Path(data_root)
    if not root.is_dir():
        raise BadInputError(root, "data root not found")
    instances: dict[str, list[Instance]] = {}
    for split in SPLITS:
        folder = split_folder(root, split)
        if folder is None:
            names = " or ".join(f"{n}/" for n in SPLIT_FOLDERS[split])
            warn(f"{root}: no {names} split folder; the {split} files will be empty")
        elif split == "val" and folder.name == "validation" and (root / "val").is_dir():
            warn(f"{root}: both validation/ and val/ exist; reading validation/ (as the seed), ignoring val/")
        instances[split] = scan_instances(root, split, use_dilated=use_dilated_mask, warn=warn)
    if not any(instances.values()):
        raise BadInputError(root, "no x3 instances under train/ or validation/ (<scene>/uid_<uid>/)")
    out = Path(out_dir).resolve()
    writer = _Images(out, {"data_root": str(root.resolve()), "alpha": alpha, "use_dilated_mask": use_dilated_mask})
    rng = random.Random(seed)
    collected: dict[str, dict[str, list[dict]]] = {s: {k: [] for k in ("t1_multi", "t1_concat", "t2a_multi",
                                                                      "t2b_multi")} for s in SPLITS}
    jobs = [(split, i, inst) for split in SPLITS for i, inst in enumerate(instances[split])]
    # first every mask is read and checked and every random draw made (in the builder's order, so
    # shards agree with the full build); only then is anything written
    loaded = [_load_views(inst, rng) for _split, _i, inst in jobs]
    it = progress(list(zip(jobs, loaded)), desc="build") if progress else zip(jobs, loaded)
    for n, ((split, _i, inst), views) in enumerate(it):
        if n % num_shards != shard_index:
            continue
        got = _instance_samples(inst, views, out, mode=mode, anchor_k=anchor_k, alpha=alpha,
                                emit_concat=emit_concat, writer=writer, concat_answer=concat_answer)
        for key, samples in got.items():
            collected[split][key].extend(samples)
    if num_shards == 1 and not any(v for c in collected.values() for v in c.values()):
        raise BadInputError(root, "no task samples: no instance has a view with an original image and a mask "
                                  "(see the warnings)")
    counts: dict[str, int] = {}
    for split in SPLITS:
        c = collected[split]
        files = {f"t1_{split}_multi.json": c["t1_multi"]}
        if emit_concat:
            files[f"t1_{split}_concat.json"] = c["t1_concat"]
        files[f"t2a_{split}_multi.json"] = c["t2a_multi"]
        files[f"t2b_{split}_multi.json"] = c["t2b_multi"]
        for name, samples in files.items():
            if not samples and split == "train" and name.startswith("t2"):
                continue  # the seed writes train Task2 files only when non-empty
            if not samples:
                warn(f"{name}: no samples")
            target = name
            if num_shards > 1:
                target = f"shards/{name[:-5]}.shard-{shard_index:03d}-of-{num_shards:03d}.json"
            _write_json(out / target, samples)
            counts[target] = len(samples)
    return counts
