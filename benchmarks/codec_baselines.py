"""Bits per pixel and speed of the classical lossless codecs and the adaptive context model.

    uv run python benchmarks/codec_baselines.py                       # CamVid if present, else samples
    uv run python benchmarks/codec_baselines.py --data-root DIR --subdir S --limit 50
    uv run python benchmarks/codec_baselines.py --splits-dir out/splits --split test

For each codec: total bits per pixel over the folder, size relative to PNG, encode and decode
throughput in megapixels per second (wall clock, one process), and whether every image
round-tripped exactly. The context model (W/N/NW/NE, KT estimator) is an ideal code length
(no bitstream), so it has no decode time. With --splits-dir, the context models primed on the
train split (4 and 8 neighbours, mc_codec.primed) are reported too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from mc_codec.classical import available_codecs
from mc_codec.context_model import context_model_bits
from mc_codec.data.masks import find_masks, make_splits, read_mask
from mc_codec.samples import sample_root

CAMVID = Path("/work/shared/data/camvid/trainannot")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--subdir", default="")
    ap.add_argument("--splits-dir", type=Path, default=None,
                    help="use one split of this folder (train.txt/val.txt/test.txt; made if missing)")
    ap.add_argument("--split", default="test", choices=["train", "val", "test"])
    ap.add_argument("--limit", type=int, default=0, help="use only the first N masks (0: all)")
    ap.add_argument("--codecs", default="", help="comma-separated subset of codecs")
    args = ap.parse_args()

    root = args.data_root
    if root is None:
        root = CAMVID if CAMVID.is_dir() else sample_root() / "masks"
    rels = find_masks(root, args.subdir)
    prior = None
    if args.splits_dir is not None:
        from mc_codec.primed import fit_context_prior

        folder = root / args.subdir if args.subdir else root
        splits = make_splits(rels, args.splits_dir, data_dir=folder)
        rels = splits[args.split]
        train = [read_mask(folder / r) for r in splits["train"]]
        if train:
            prior = fit_context_prior(train, max(int(m.max()) for m in train) + 1)
    if args.limit:
        rels = rels[: args.limit]
    folder = root / args.subdir if args.subdir else root
    masks = [read_mask(folder / r) for r in rels]
    pixels = sum(m.size for m in masks)
    print(f"data: {folder} ({len(masks)} masks, {pixels / 1e6:.2f} MP)")

    codecs = available_codecs()
    if args.codecs:
        codecs = {k: v for k, v in codecs.items() if k in args.codecs.split(",")}
    rows = []
    for name, codec in codecs.items():
        total_bytes, enc_s, dec_s, lossless, used_px = 0, 0.0, 0.0, True, 0
        for m in masks:
            if not codec.supports(m):
                continue
            t0 = time.perf_counter()
            data = codec.encode(m)
            t1 = time.perf_counter()
            back = codec.decode(data, m.shape, m.dtype)
            t2 = time.perf_counter()
            enc_s += t1 - t0
            dec_s += t2 - t1
            total_bytes += len(data)
            used_px += m.size
            lossless &= bool(np.array_equal(back, m))
        if used_px:
            rows.append((name, 8 * total_bytes / used_px, used_px / 1e6 / enc_s, used_px / 1e6 / dec_s,
                         "yes" if lossless else "NO"))
    t0 = time.perf_counter()
    bits = sum(context_model_bits(m) for m in masks)
    dt = time.perf_counter() - t0
    rows.append(("context-model (ideal)", bits / pixels, pixels / 1e6 / dt, float("nan"), "n/a"))
    if prior is not None and all(int(m.max()) < prior.vocab_size for m in masks):
        for n in prior.neighbourhoods:
            t0 = time.perf_counter()
            bits = sum(prior.bits(m, n) for m in masks)
            dt = time.perf_counter() - t0
            rows.append((f"primed-{n} (ideal)", bits / pixels, pixels / 1e6 / dt, float("nan"), "n/a"))

    png = next((r[1] for r in rows if r[0] == "png"), None)
    print(f"{'codec':<22} {'bpp':>8} {'vs PNG':>7} {'enc MP/s':>9} {'dec MP/s':>9} {'lossless':>8}")
    for name, bpp, enc, dec, ok in sorted(rows, key=lambda r: r[1]):
        ratio = f"{bpp / png:.3f}" if png else "-"
        dec_txt = "-" if np.isnan(dec) else f"{dec:.2f}"
        print(f"{name:<22} {bpp:>8.4f} {ratio:>7} {enc:>9.2f} {dec_txt:>9} {ok:>8}")


if __name__ == "__main__":
    main()
