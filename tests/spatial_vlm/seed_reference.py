"""The seed pipeline's rules, written for the tests from the seed's documentation and its
pipeline's documented behaviour (RoboRefer-FineTuning `tools/build_spatial_tasks_x3.py` and
`tools/eval_spatial_tasks.py`), independently of mc_spatial_vlm's code: a plain reading of the
rules, pixel loops and all, to run against `mc spatial-vlm build` and `eval` on the same data.

Loaded by `conftest.py` as the `seed_ref` fixture.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import numpy as np
from PIL import Image

# ------------------------------------------------------------------ builder


def _grey_mask(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("L")) > 0


def ref_point(mask: np.ndarray, rng: random.Random):
    """bbox centre (float) if the rounded centre is on the mask, else a uniform mask pixel."""
    h, w = mask.shape
    on = [(x, y) for y in range(h) for x in range(w) if mask[y, x]]  # row-major, as np.where
    if not on:
        return None
    xs = [p[0] for p in on]
    ys = [p[1] for p in on]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    rx, ry = round(cx), round(cy)
    if 0 <= rx < w and 0 <= ry < h and mask[ry, rx]:
        px, py = cx, cy
    else:
        px, py = on[rng.randrange(len(on))]
    return min(1.0, max(0.0, (px + 0.5) / w)), min(1.0, max(0.0, (py + 0.5) / h))


def _pick(names: list[str], k: int, ending: str) -> str | None:
    hits = sorted(n for n in names if n.startswith(f"{k:02d}_") and n.endswith(ending))
    return hits[0] if hits else None


def _text(p) -> str:
    return "NOT_VISIBLE" if p is None else f"[({p[0]:.3f}, {p[1]:.3f})]"


def ref_build(root: Path, out: Path, *, prompts: dict[str, str], mode: str = "anchor", anchor_k: int = 1,
              emit_concat: bool = True, seed: int = 42, use_dilated: bool = True) -> dict[str, list[dict]]:
    """The 8 JSON files (name -> samples) the seed's builder writes for `root` into `out`.

    `prompts` holds the three prompt texts ("t1", "t2b", and "concat" with {x} {y} fields), which
    the test reads from the seed's builder text as mc writes it; everything else is derived here.
    """
    rng = random.Random(seed)
    out = out.resolve()
    files: dict[str, list[dict]] = {k: [] for k in (
        "t1_train_multi", "t1_val_multi", "t1_train_concat", "t1_val_concat",
        "t2a_train_multi", "t2a_val_multi", "t2b_train_multi", "t2b_val_multi")}
    for folder, tag in (("train", "train"), ("validation", "val")):
        split_dir = root / folder
        if not split_dir.is_dir():
            continue
        for scene in sorted(os.listdir(split_dir)):
            if not (split_dir / scene).is_dir():
                continue
            for uid_name in sorted(os.listdir(split_dir / scene)):
                uid_dir = split_dir / scene / uid_name
                if not (uid_dir.is_dir() and uid_name.startswith("uid_")):
                    continue
                uid = uid_name.replace("uid_", "")
                names = os.listdir(uid_dir)
                views = []
                for k in range(1, 6):
                    orig = _pick(names, k, "_original.png")
                    if orig is None:
                        continue
                    wanted, other = ("_mask_dialated.png", "_mask.png") if use_dilated else ("_mask.png",
                                                                                        "_mask_dialated.png")
                    mname = _pick(names, k, wanted) or _pick(names, k, other)
                    if mname is None:
                        continue
                    inp = _pick(names, k, "_inpainted.png")
                    views.append({"k": k, "frame": orig.split("_")[1],
                                  "orig": str((uid_dir / orig).resolve()),
                                  "inp": str((uid_dir / inp).resolve()) if inp else None,
                                  "point": ref_point(_grey_mask(uid_dir / mname), rng)})
                rel = out / "marked_abs" / folder / scene / uid_name
                if mode == "anchor":
                    refs = [v for v in views if v["k"] == anchor_k]
                    pairs = [(r, q) for r in refs[:1] for q in views if q["k"] != r["k"]]
                else:
                    pairs = [(r, q) for r in views for q in views if q["k"] != r["k"]]
                for r, q in pairs:
                    base = f"{scene}_uid{uid}_A{r['k']:02d}{r['frame']}_B{q['k']:02d}{q['frame']}"
                    marked = str(rel / f"{r['k']:02d}_{r['frame']}_marked.png")
                    conv = [{"from": "human", "value": prompts["t1"]}, {"from": "gpt", "value": _text(q["point"])}]
                    files[f"t1_{tag}_multi"].append({"id": "T1_MULTI_" + base, "task": "t1_multi",
                                                     "image": [marked, q["orig"]], "query_original": q["orig"],
                                                     "conversations": conv})
                    if q["point"] is None:
                        files[f"t2a_{tag}_multi"].append({
                            "id": "T2A_MULTI_" + base, "task": "t2a_multi", "image": [marked, q["orig"]],
                            "query_original": q["orig"],
                            "conversations": [{"from": "human", "value": prompts["t1"]},
                                              {"from": "gpt", "value": "NOT_VISIBLE"}]})
                    if emit_concat and r["point"] is not None:
                        cimg = out / "concat_abs" / folder / scene / uid_name / (
                            f"{r['k']:02d}{r['frame']}_to_{q['k']:02d}{q['frame']}_concat.jpg")
                        prompt = prompts["concat"].format(x=r["point"][0] * 0.5, y=r["point"][1])
                        files[f"t1_{tag}_concat"].append({
                            "id": "T1_CONCAT_" + base, "task": "t1_concat", "image": str(cimg),
                            "query_original": q["orig"],
                            "conversations": [{"from": "human", "value": prompt},
                                              {"from": "gpt", "value": _text(q["point"])}]})
                for v in views:
                    if v["inp"] is None or v["point"] is None:
                        continue
                    files[f"t2b_{tag}_multi"].append({
                        "id": f"T2B_MULTI_{scene}_uid{uid}_K{v['k']:02d}{v['frame']}", "task": "t2b_multi",
                        "image": [v["orig"], v["inp"]], "query_original": v["inp"],
                        "conversations": [{"from": "human", "value": prompts["t2b"]},
                                          {"from": "gpt", "value": _text(v["point"])}]})
    if not emit_concat:
        del files["t1_train_concat"], files["t1_val_concat"]
    for name in ("t2a_train_multi", "t2b_train_multi"):
        if not files[name]:
            del files[name]
    return files


def ref_marked(original: Path, mask: np.ndarray, alpha: float) -> np.ndarray:
    img = np.array(Image.open(original).convert("RGB")).astype(np.float64)
    out = img.copy()
    out[mask] = img[mask] * (1 - alpha) + np.array([255.0, 0, 0]) * alpha
    return out.astype(np.uint8)


# ------------------------------------------------------------------ evaluator

_COORD = re.compile(r"\[\((\s*[0-9.]+\s*),(\s*[0-9.]+\s*)\)\]")


def _coords(text: str):
    m = _COORD.search(text)
    if m is None:
        return None
    try:
        return float(m.group(1).strip()), float(m.group(2).strip())
    except ValueError:
        return None


def ref_parse_pred(text: str):
    """(is_not_visible, point or None)."""
    if "NOT_VISIBLE" in text.upper():
        return True, None
    return False, _coords(text)


def ref_parse_gt(text: str):
    if text.upper() == "NOT_VISIBLE":
        return True, None
    return False, _coords(text)


def ref_mask_for(query: str):
    p = Path(query)
    n = p.name
    if n.endswith("_original.png"):
        old = "_original.png"
    elif n.endswith("_inpainted.png"):
        old = "_inpainted.png"
    else:
        old = ".png"
    for new in ("_mask_dialated.png", "_mask.png"):
        c = p.with_name(n.replace(old, new))
        if c.exists():
            return c
    return None


def ref_hit(x: float, y: float, mask: np.ndarray) -> bool:
    h, w = mask.shape
    col = max(0, min(w - 1, int(round(x * (w - 1)))))
    row = max(0, min(h - 1, int(round(y * (h - 1)))))
    return bool(mask[row, col])


def ref_eval(samples: list[dict], answers: dict[str, str]):
    """(metrics with the seed's 13 keys, per-sample (l2_error, hit_mask, pred_parsed)) of `answers`."""
    total = gt_nv = ok_nv = vis = s2 = s5 = s10 = hm = hmt = 0
    l2s = []
    per = {}
    for s in samples:
        sid = s["id"]
        g_nv, g_pt = ref_parse_gt(s["conversations"][1]["value"])
        p_nv, p_pt = ref_parse_pred(answers.get(sid, ""))
        total += 1
        l2 = hit = None
        if g_nv:
            gt_nv += 1
            ok_nv += p_nv
        else:
            vis += 1
            if not p_nv and p_pt is not None and g_pt is not None:
                l2 = float(np.sqrt((p_pt[0] - g_pt[0]) ** 2 + (p_pt[1] - g_pt[1]) ** 2))
                l2s.append(l2)
                s2 += l2 <= 0.02
                s5 += l2 <= 0.05
                s10 += l2 <= 0.10
            q = s["query_original"] if "query_original" in s else (
                s["image"][-1] if isinstance(s["image"], list) and len(s["image"]) >= 2 else None)
            if q is not None and p_pt is not None and not p_nv:
                mp = ref_mask_for(q)
                if mp is not None:
                    mask = _grey_mask(mp)
                    hmt += 1
                    x, y = p_pt
                    if isinstance(s["image"], str):
                        hit = False if x < 0.5 else ref_hit(min(1, max(0, (x - 0.5) * 2)), min(1, max(0, y)), mask)
                    else:
                        hit = ref_hit(x, y, mask)
                    hm += hit
        per[sid] = {"l2_error": l2, "hit_mask": hit, "pred_parsed": {"is_not_visible": p_nv,
                                                                      "coord": list(p_pt) if p_pt else None}}
    arr = np.array(l2s, dtype=np.float32)
    metrics = {
        "total": total, "gt_not_visible": gt_nv, "visible_gt": vis,
        "not_visible_accuracy": ok_nv / gt_nv if gt_nv else 0.0,
        "mean_l2_error": float(arr.mean()) if l2s else None,
        "std_l2_error": float(arr.std()) if l2s else None,
        "median_l2_error": float(np.median(arr)) if l2s else None,
        "success_002": s2 / vis if vis else 0.0, "success_005": s5 / vis if vis else 0.0,
        "success_010": s10 / vis if vis else 0.0, "hit_at_mask": hm / hmt if hmt else 0.0,
        "hit_at_mask_count": hm, "hit_at_mask_total": hmt,
    }
    return metrics, per
