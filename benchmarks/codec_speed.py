"""Speed: training tokens/s, eval s per megapixel, and learned encode/decode MP/s next to PNG and
JPEG XL, all in one run on the same masks (a 480x360 generated street map by default).

    uv run python benchmarks/codec_speed.py [--checkpoint C] [--images 3] [--masks DIR]

`--masks DIR` times the last `--images` PNG masks found below DIR (sorted by path), e.g.
CamVid's trainannot with the checkpoint from benchmarks/codec_quality.py.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--images", type=int, default=3)
    ap.add_argument("--masks", default=None, help="folder of PNG masks to time instead of generated ones")
    a = ap.parse_args()
    import torch

    from mc_codec.classical import available_codecs
    from mc_codec.coding.api import decode, encode, load_model
    from mc_codec.evaluate import image_bits
    from mc_codec.rows import image_tokens, pad_rows
    from mc_codec.samples import generate_street_like
    from mc_codec.train import batch_loss
    from mc_core.factory import create_model

    torch.set_num_threads(1)
    cm = load_model(a.checkpoint)
    if a.masks:
        from mc_codec.data.masks import find_masks, read_mask

        masks = [read_mask(Path(a.masks) / r) for r in find_masks(Path(a.masks))[-a.images:]]
    else:
        masks = [np.asarray(generate_street_like(seed=100 + i, height=360, width=480)).astype(np.uint8)
                 for i in range(a.images)]
    mp = sum(m.size for m in masks) / 1e6
    # training throughput (fresh default-size model, 2D context)
    model = create_model(cm.name, cm.config.get("model", cm.config), task="codec")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rows = [r for m in masks for r in image_tokens(m, True).rows()]
    t0, n = time.perf_counter(), 0
    for s in range(0, len(rows), 64):
        f, c, lens = pad_rows(rows[s:s + 64])
        loss = batch_loss(model, f, c, lens, 0.0, 1)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += int((c >= 0).sum())
    print(f"training: {n / (time.perf_counter() - t0):.0f} tokens/s ({n} tokens, batch 64 rows, 1 thread)")
    t0 = time.perf_counter()
    for m in masks:
        image_bits(cm.model, image_tokens(m, cm.use_2d))
    print(f"eval (ideal bits): {(time.perf_counter() - t0) / mp:.3f} s per megapixel")
    print(f"\n{len(masks)} masks {masks[0].shape[1]}x{masks[0].shape[0]} ({mp:.2f} MP)")
    print(f"{'codec':<10}{'enc MP/s':>10}{'dec MP/s':>10}{'dec s/img':>11}{'bpp':>9}")
    t0 = time.perf_counter()
    data = [encode(m, cm) for m in masks]
    te = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    outs = [decode(d, cm) for d in data]
    td, tc = time.perf_counter() - t0, time.process_time() - c0
    assert all(np.array_equal(o, m) for o, m in zip(outs, masks))
    bpp = 8 * sum(map(len, data)) / (mp * 1e6)
    print(f"{'learned':<10}{mp / te:>10.3f}{mp / td:>10.3f}{td / len(masks):>11.3f}{bpp:>9.4f}"
          f"   (decode CPU time {tc / len(masks):.3f} s per image, 1 thread)")
    for bh in (16, 8):  # smaller bands: more rows decoded in parallel, fewer rows with context
        d2 = [encode(m, cm, band_height=bh) for m in masks]
        c0 = time.process_time()
        for d in d2:
            decode(d, cm)
        tc2 = time.process_time() - c0
        print(f"  band height {bh}: decode CPU {tc2 / len(masks):.3f} s per image, "
              f"{8 * sum(map(len, d2)) / (mp * 1e6):.4f} bpp")
    for name in ("png", "jxl"):
        c = available_codecs().get(name)
        if c is None:
            continue
        t0 = time.perf_counter()
        enc = [c.encode(m) for m in masks]
        te = time.perf_counter() - t0
        t0 = time.perf_counter()
        for e, m in zip(enc, masks):
            c.decode(e, m.shape, m.dtype)
        td = time.perf_counter() - t0
        bpp = 8 * sum(map(len, enc)) / (mp * 1e6)
        print(f"{name:<10}{mp / te:>10.3f}{mp / td:>10.3f}{td / len(masks):>11.3f}{bpp:>9.4f}")


if __name__ == "__main__":
    main()
