"""Pictures of evaluation results: one tile per sample, tiles in a grid, written as one PNG.

A tile shows the sample's images side by side (Task1 multi: the marked reference and the query;
Task2B: original and inpainted; concat: the one side-by-side image) at a common height. On the
query image (the last image; the right half of a concat image) the ground-truth mask is tinted
cyan, the ground-truth point is a green ring and the predicted point a red cross (drawn where the
answer puts it: in concat coordinates for concat samples, so a point on the left half shows there).
Under the images a caption gives the verdict (HIT, MISS, NV OK, NV WRONG, ERROR), the sample id
and the model's answer. Images that cannot be read are drawn as grey panels; a missing mask just
draws no tint.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mc_core.errors import BadInputError

SHOW = ("all", "correct", "wrong", "error")
VERDICT_COLOURS = {"HIT": (40, 160, 60), "NV OK": (40, 160, 60), "MISS": (200, 40, 40),
                   "NV WRONG": (200, 40, 40), "ERROR": (140, 60, 160)}
GT_COLOUR = (0, 230, 0)
PRED_COLOUR = (255, 30, 30)
MASK_TINT = np.array([0, 220, 255], dtype=np.float32)
CAPTION_LINES = 3


def verdict(result: dict[str, Any]) -> str:
    """HIT / MISS for a visible ground truth, NV OK / NV WRONG for a not-visible one, ERROR on failure."""
    if result.get("error"):
        return "ERROR"
    if result.get("gt_visible"):
        return "HIT" if result.get("hit") else "MISS"
    return "NV OK" if result.get("pred_kind") == "not_visible" else "NV WRONG"


def selected(result: dict[str, Any], show: str) -> bool:
    v = verdict(result)
    if show == "all":
        return True
    if show == "correct":
        return v in ("HIT", "NV OK")
    if show == "wrong":
        return v not in ("HIT", "NV OK")
    return v == "ERROR"


def load_eval_json(path: str | Path) -> list[dict[str, Any]]:
    """The `results` of an eval output JSON (`{"metrics": ..., "results": [...]}`)."""
    import json

    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise BadInputError(p, "eval JSON not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInputError(p, f"malformed JSON: {e}") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise BadInputError(p, "not an eval output: expected {\"metrics\": ..., \"results\": [...]}")
    return results


def attach_images(results: list[dict[str, Any]], eval_json: str | Path, samples: list[dict[str, Any]] | None,
                  data_json: str | Path | None, image_folder: str = "/") -> list[dict[str, Any]]:
    """Results with `images` filled in: kept if the eval wrote them, else taken from the task samples.

    Results and samples are matched by position (eval keeps the order of the task JSON) and their
    ids must agree, so a task JSON other than the one evaluated is refused.
    """
    from mc_spatial_vlm.data.tasks import sample_images

    if all("images" in r for r in results):
        return results
    if samples is None:
        raise BadInputError(eval_json, "results carry no image paths (written by an older eval); "
                                       "give the task JSON it evaluated (data_json, --data-json)")
    if len(samples) != len(results):
        raise BadInputError(data_json, f"has {len(samples)} samples but {eval_json} has {len(results)} results; "
                                       "pass the task JSON that eval ran on")
    out = []
    for i, (r, s) in enumerate(zip(results, samples)):
        sid = s.get("id") if isinstance(s, dict) else None
        if r.get("id") != sid:
            raise BadInputError(data_json, f"sample {i} is {sid!r} but result {i} of {eval_json} is "
                                           f"{r.get('id')!r}; pass the task JSON that eval ran on")
        try:
            images = sample_images(s, image_folder)
        except ValueError:
            images = []
        out.append({**r, "images": images})
    return out


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size only
        return ImageFont.load_default()


def _open_rgb(path: str, height: int):
    """The image scaled to `height` (aspect kept), or None if it cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w = max(1, round(im.width * height / im.height))
            return im.resize((w, height), Image.BILINEAR), im.size
    except (OSError, ValueError):
        return None


def _tint_mask(panel, mask_path: str | None, box: tuple[int, int, int, int]):
    """Tint the mask>0 pixels inside `box` (left, top, right, bottom) of `panel`."""
    from PIL import Image

    if not mask_path:
        return panel
    try:
        with Image.open(mask_path) as m:
            m = m.convert("L").resize((box[2] - box[0], box[3] - box[1]), Image.NEAREST)
            on = np.asarray(m) > 0
    except (OSError, ValueError):
        return panel
    arr = np.asarray(panel).astype(np.float32)
    region = arr[box[1]:box[3], box[0]:box[2]]
    region[on] = 0.55 * region[on] + 0.45 * MASK_TINT
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


def _to_pixels(point, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """Normalised (x, y) in `box` to panel pixels, clamped to the box so off-image answers stay visible."""
    x = min(max(float(point[0]), 0.0), 1.0)
    y = min(max(float(point[1]), 0.0), 1.0)
    return box[0] + x * (box[2] - box[0]), box[1] + y * (box[3] - box[1])


def _shorten(text: str, font, width: int) -> str:
    from PIL import Image, ImageDraw

    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength("..." + text, font=font) > width:
        text = text[1:]
    return "..." + text


def draw_tile(result: dict[str, Any], height: int = 160, font_size: int = 11):
    """One sample as a PIL image: its images side by side, mask tint, points and a caption."""
    from PIL import Image, ImageDraw

    paths = [str(p) for p in result.get("images") or []]
    concat = bool(result.get("concat")) or len(paths) == 1
    panels = []
    for p in paths:
        opened = _open_rgb(p, height)
        panels.append(opened[0] if opened else Image.new("RGB", (height, height), (90, 90, 90)))
    if not panels:
        panels = [Image.new("RGB", (height, height), (90, 90, 90))]
    gap = 4
    width = sum(p.width for p in panels) + gap * (len(panels) - 1)
    font = _font(font_size)
    line_h = font_size + 3
    tile = Image.new("RGB", (max(width, 2 * height), height + CAPTION_LINES * line_h + 4), (255, 255, 255))
    x = 0
    for p in panels:
        tile.paste(p, (x, 0))
        x += p.width + gap
    last = panels[-1]
    qbox = (width - last.width, 0, width, height)  # the query image, or the whole concat image
    mask_box = ((qbox[0] + qbox[2]) // 2, 0, qbox[2], height) if concat else qbox  # concat: right half
    if result.get("gt_visible"):
        tile = _tint_mask(tile, result.get("mask"), mask_box)
    draw = ImageDraw.Draw(tile)
    r = max(3, height // 28)
    if result.get("gt_point"):
        # the ground truth is in query coordinates (the seed's concat answers too: the right half)
        gx, gy = _to_pixels(result["gt_point"], mask_box)
        draw.ellipse((gx - r, gy - r, gx + r, gy + r), outline=GT_COLOUR, width=2)
    if result.get("pred_point"):
        px, py = _to_pixels(result["pred_point"], qbox)
        draw.line((px - r, py - r, px + r, py + r), fill=PRED_COLOUR, width=2)
        draw.line((px - r, py + r, px + r, py - r), fill=PRED_COLOUR, width=2)
    v = verdict(result)
    pred = result.get("error") or result.get("pred_text") or ""
    pred = " ".join(str(pred).split())
    lines = [(f"{v}" + (f"  L2 {result['l2']:.3f}" if result.get("l2") is not None else ""), VERDICT_COLOURS[v]),
             (str(result.get("id") or ""), (60, 60, 60)),
             (("error: " if result.get("error") else "answer: ") + pred, (0, 0, 0))]
    for k, (text, colour) in enumerate(lines):
        draw.text((2, height + 2 + k * line_h), _shorten(text, font, tile.width - 4), fill=colour, font=font)
    return tile


def render_grid(results: list[dict[str, Any]], *, columns: int = 4, height: int = 160,
                progress: Callable | None = None):
    """The tiles of `results` in rows of `columns`, on a white background."""
    from PIL import Image

    it = progress(results, desc="draw") if progress else results
    tiles = [draw_tile(r, height) for r in it]
    columns = max(1, min(columns, len(tiles)))
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    col_w = [max(row[c].width for row in rows if c < len(row)) for c in range(columns)]
    row_h = [max(t.height for t in row) for row in rows]
    pad = 8
    grid = Image.new("RGB", (sum(col_w) + pad * (columns + 1), sum(row_h) + pad * (len(rows) + 1)),
                     (255, 255, 255))
    y = pad
    for row, h in zip(rows, row_h):
        x = pad
        for c, t in enumerate(row):
            grid.paste(t, (x, y))
            x += col_w[c] + pad
        y += h + pad
    return grid


def visualize_results(results: list[dict[str, Any]], out_png: str | Path, *, show: str = "all",
                      max_samples: int = 24, columns: int = 4, height: int = 160,
                      progress: Callable | None = None) -> int:
    """Draw up to `max_samples` results matching `show` into `out_png` (atomically); returns how many.

    Nothing is written when no result matches.
    """
    from mc_core.atomic import atomic_path
    from mc_core.errors import UsageError

    if show not in SHOW:
        raise UsageError(f"show must be one of {', '.join(SHOW)}, got {show!r}")
    chosen = [r for r in results if selected(r, show)][:max_samples]
    if not chosen:
        return 0
    grid = render_grid(chosen, columns=columns, height=height, progress=progress)
    with atomic_path(out_png) as tmp:
        grid.save(tmp, format="PNG")
    return len(chosen)


def visualize_eval_json(eval_json: str | Path, out_png: str | Path, *, data_json: str | Path | None = None,
                        image_folder: str = "/", show: str = "all", max_samples: int = 24, columns: int = 4,
                        height: int = 160, progress: Callable | None = None) -> int:
    """Draw the results of an eval output JSON into `out_png`; returns how many were drawn.

    `data_json` (the task JSON evaluated) gives the image paths of results written without them.
    An output that is also an input is refused before anything is written.
    """
    from mc_core.paths import check_outputs
    from mc_spatial_vlm.data.tasks import load_task_json

    check_outputs([eval_json, data_json], [out_png])
    results = load_eval_json(eval_json)
    samples = load_task_json(data_json) if data_json else None
    results = attach_images(results, eval_json, samples, data_json, image_folder)
    return visualize_results(results, out_png, show=show, max_samples=max_samples, columns=columns,
                             height=height, progress=progress)
