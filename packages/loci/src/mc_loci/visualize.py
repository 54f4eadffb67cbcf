"""``mc loci visualize``: pictures of what each stage has learned, as the seed's ``--save-*`` modes.

- ``mask`` / ``depth`` / ``rgb``: single objects of the data through the part's object encoder and
  decoder: a PNG grid, a row per object [true | decoded];
- ``objects``: frames with their true objects seeding the slots, through the encoder-decoder passes:
  a PNG grid [frame | each slot's decoded colour under its mask | composition | instances];
- ``bg``: the background module over a video: PNG grid and GIF [frame | background | background
  depth | foreground map];
- ``loci`` (``--save``): the whole model over a video, no labels: PNG grid and GIF [frame |
  reconstruction | depth | instances | each slot].

``add_text`` writes a label over each column and the frame number over each row.

    from mc_loci.visualize import visualize
    visualize("runs/pipe/final", "pan_test", "vis", modes=["loci", "bg"], add_text=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mc_core.errors import BadInputError, UsageError

MODES = ("mask", "depth", "rgb", "objects", "bg", "loci")
SCALE = 3


def _to_uint8(x) -> np.ndarray:
    """(C,H,W) tensor/array in 0..1 (C = 1 or 3) -> (H,W,3) uint8."""
    a = np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, -1)
    return (np.clip(a, 0, 1) * 255).round().astype(np.uint8)


def _grid(rows: list[list[np.ndarray]], labels: Sequence[str] | None, row_labels: Sequence[str] | None
          ) -> np.ndarray:
    from PIL import Image, ImageDraw

    tiles = [[np.asarray(Image.fromarray(t).resize((t.shape[1] * SCALE, t.shape[0] * SCALE), Image.NEAREST))
              for t in row] for row in rows]
    h, w = tiles[0][0].shape[:2]
    top = 14 if labels else 0
    cols = max(len(r) for r in tiles)
    canvas = np.full((top + len(tiles) * (h + 2), cols * (w + 2), 3), 32, np.uint8)
    for i, row in enumerate(tiles):
        for j, t in enumerate(row):
            y, x = top + i * (h + 2), j * (w + 2)
            canvas[y:y + h, x:x + w] = t
    if labels or row_labels:
        img = Image.fromarray(canvas)
        draw = ImageDraw.Draw(img)
        for j, text in enumerate(labels or []):
            draw.text((j * (w + 2) + 2, 1), str(text), fill=(255, 255, 255))
        for i, text in enumerate(row_labels or []):
            draw.text((2, top + i * (h + 2) + 2), str(text), fill=(255, 255, 0))
        canvas = np.asarray(img)
    return canvas


def _save_png(path: Path, image: np.ndarray) -> Path:
    from PIL import Image

    from mc_core.atomic import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    return path


def _save_gif(path: Path, frames: list[np.ndarray], fps: float = 3.0) -> Path:
    from PIL import Image

    from mc_core.atomic import atomic_path

    images = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def _load(checkpoint):
    from mc_core.factory import load_model_and_checkpoint
    from mc_loci.interface import TASK, VideoSegmenter

    model, ck = load_model_and_checkpoint(checkpoint, task=TASK, protocol=VideoSegmenter, device="cpu")
    if ck.model not in ("loci-s", "loci-background"):
        raise BadInputError(ck.path, f"checkpoint holds a {ck.model!r} model; visualize shows loci-s and "
                                     "loci-background checkpoints")
    model.eval()
    return model, ck


def _decoder_rows(model, part: str, arrays, count: int, seed: int):
    import torch

    from mc_loci.stages.batches import object_batch, object_index

    index = object_index(arrays["masks"])
    if not len(index):
        raise BadInputError(None, "no object of at least 8 pixels in the data")
    b = object_batch(arrays, index, np.random.default_rng(seed), count)
    pos, mask, size = b["position"], b["mask"], tuple(b["mask"].shape[-2:])
    with torch.no_grad():
        if part == "mask":
            out = torch.sigmoid(model.mask_decoder(model.gestalt_code(model.mask_encoder(mask, pos)), pos, size))
            true = mask
        elif part == "depth":
            code = model.gestalt_code(model.depth_encoder(torch.cat([mask, mask * b["depth"]], 1), pos))
            out = model.depth_decoder(code, pos, mask, size) * mask
            true = b["depth"] * mask
        else:
            code = model.gestalt_code(model.rgb_encoder(torch.cat([mask, mask * b["rgb"]], 1), pos))
            out = model.rgb_decoder(code, pos, mask, b["depth"], size) * mask
            true = b["rgb"] * mask
    return [[_to_uint8(b["rgb"][i]), _to_uint8(true[i]), _to_uint8(out[i])] for i in range(count)], \
        ["frame", "true", "decoded"]


def _objects_rows(model, arrays, count: int, seed: int):
    import torch

    from mc_loci.models.loci_segmented.slots import SlotState
    from mc_loci.render import overlay
    from mc_loci.stages.batches import frame_batch

    b = frame_batch(arrays, np.random.default_rng(seed), count, model.config.num_slots)
    k = model.config.num_slots
    state = SlotState(torch.zeros(count, k, 3 * model.config.gestalt), b["position"], torch.zeros(count, k), b["active"])
    bg = {"rgb": b["bg"], "depth": b["bg_depth"], "logit": model.bg_logit(torch.zeros_like(b["depth"]))}
    with torch.no_grad():
        _, r, _ = model.refine(state, b["rgb"], b["depth"] if model.config.depth_input else None, bg,
                               int(model.config.passes), bool(model.config.hyper))
    rows = []
    for i in range(count):
        frame = _to_uint8(b["rgb"][i])
        slots = [_to_uint8(r["slot_rgb"][i, s] * r["weights"][i, 1 + s:2 + s]) for s in range(k)]
        ids = overlay(frame[None], r["ids"][i:i + 1].numpy())[0]
        rows.append([frame, *slots, _to_uint8(r["rgb"][i]), ids])
    return rows, ["frame", *[f"slot {s + 1}" for s in range(k)], "recon", "ids"]


def _video_rows(model, video, mode: str):
    import torch

    from mc_loci.models.background import BackgroundModule, estimate_video
    from mc_loci.models.loci_segmented.model import video_tensors
    from mc_loci.render import overlay

    rgb_u8 = np.asarray(video["rgb"])
    if mode == "bg":
        bgm = model if isinstance(model, BackgroundModule) else model.background
        est = estimate_video(bgm, video)
        rows = []
        for t in range(len(rgb_u8)):
            row = [rgb_u8[t], np.clip(est["colour"][t], 0, 255).astype(np.uint8)]
            if est["depth"] is not None:
                row.append(_to_uint8(est["depth"][t]))
            row.append(_to_uint8(1 / (1 + np.exp(-est["fg_logit"][t]))))
            rows.append(row)
        labels = ["frame", "background"] + (["bg depth"] if est["depth"] is not None else []) + ["foreground"]
        return rows, labels
    if not hasattr(model, "run_video"):
        raise UsageError("--save shows a loci-s checkpoint (this one holds a background module: use --save-bg)")
    rgb, depth = video_tensors(video, "cpu", model.config.size)
    with torch.no_grad():
        out = model.run_video(rgb, depth)
    rows = []
    k = model.config.num_slots
    for t, f in enumerate(out["frames"]):
        frame = _to_uint8(rgb[0, t])
        ids = overlay(frame[None], f["ids"][:1].numpy())[0]
        slots = [_to_uint8(f["slot_rgb"][0, s] * f["weights"][0, 1 + s:2 + s]) for s in range(k)]
        rows.append([frame, _to_uint8(f["rgb"][0]), _to_uint8(f["depth"][0]), ids, *slots])
    return rows, ["frame", "recon", "depth", "ids", *[f"slot {s + 1}" for s in range(k)]]


def visualize(checkpoint: str | Path, data: str | Path, out_dir: str | Path, *, modes: Sequence[str],
              add_text: bool = False, index: int = 0, count: int = 8, seed: int = 0) -> list[Path]:
    """Write the pictures of `modes` (:data:`MODES`) for `checkpoint` on `data` (video `index`, or
    `count` objects/frames drawn with `seed`) into `out_dir`; returns the files written."""
    from mc_loci.data import open_eval_data
    from mc_loci.training import prepare_arrays

    modes = list(dict.fromkeys(modes))
    if not modes:
        raise UsageError("nothing to save: give --save-mask, --save-depth, --save-rgb, --save-objects, --save-bg "
                         "or --save")
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise UsageError(f"unknown mode {bad[0]!r} (known: {', '.join(MODES)})")
    model, ck = _load(checkpoint)
    if ck.model == "loci-background" and set(modes) - {"bg"}:
        raise UsageError(f"{ck.path}: a loci-background checkpoint shows only --save-bg")
    ds = open_eval_data(data, size=None, checkpoint=checkpoint)
    if not 0 <= index < len(ds):
        raise UsageError(f"index {index} out of range: the data has {len(ds)} videos")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    arrays = None
    for mode in modes:
        if mode in ("mask", "depth", "rgb", "objects"):
            if arrays is None:
                arrays = prepare_arrays(ds, "farthest")
                if "masks" not in arrays:
                    raise BadInputError(ds.root, f"--save-{mode} shows true objects: the data has no masks")
            rows, labels = (_objects_rows(model, arrays, count, seed) if mode == "objects"
                            else _decoder_rows(model, mode, arrays, count, seed))
            written.append(_save_png(out / f"{mode}.png", _grid(rows, labels if add_text else None, None)))
        else:
            rows, labels = _video_rows(model, ds[index], mode)
            row_labels = [f"t={t}" for t in range(len(rows))] if add_text else None
            written.append(_save_png(out / f"{mode}.png", _grid(rows, labels if add_text else None, row_labels)))
            gif = [_grid([r], labels if add_text else None, [f"t={t}"] if add_text else None) for t, r in enumerate(rows)]
            written.append(_save_gif(out / f"{mode}.gif", gif))
    return written


