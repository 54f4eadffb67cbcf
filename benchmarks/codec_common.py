"""Shared by the codec benchmark scripts: the hold-out comparison table."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def holdout_table(checkpoint: Path, root: Path, rel_paths: list[str], coded_images: int | None = None,
                  label: str = "hold-out"):
    """Print bits per pixel of the model's ideal code length, the actual coded size (on the first
    `coded_images` images, verified lossless), every classical codec and the context models (empty
    start; primed from the checkpoint's context_prior.npz, 4 and 8 neighbours)."""
    from mc_codec.classical import available_codecs
    from mc_codec.coding.api import decode, encode_with_stats, load_model
    from mc_codec.container import unpack
    from mc_codec.context_model import context_model_bits
    from mc_codec.data.masks import read_mask
    from mc_codec.evaluate import image_bits
    from mc_codec.primed import checkpoint_prior
    from mc_codec.rows import image_tokens

    cm = load_model(checkpoint)
    prior = checkpoint_prior(checkpoint)
    primed = {} if prior is None else {f"context-model-{'' if n == 4 else '8-'}primed": n
                                       for n in prior.neighbourhoods}
    codecs = available_codecs()
    tot = {k: 0.0 for k in ["ideal", "context-model-ideal", *primed, *codecs]}
    tm = {k: [0.0, 0.0] for k in ["learned", *codecs]}
    px = 0
    coded = {"file_bits": 0.0, "payload_bits": 0.0, "ideal_bits": 0.0, "px": 0, "lossless": True}
    n_code = len(rel_paths) if coded_images is None else min(coded_images, len(rel_paths))
    for i, rel in enumerate(rel_paths):
        mask = read_mask(root / rel)
        px += mask.size
        ib = image_bits(cm.model, image_tokens(mask, cm.use_2d))["bits"]
        tot["ideal"] += ib
        tot["context-model-ideal"] += context_model_bits(mask)
        for name, n in primed.items():
            tot[name] += prior.bits(mask, n)
        for name, c in codecs.items():
            t0 = time.perf_counter()
            data = c.encode(mask)
            t1 = time.perf_counter()
            c.decode(data, mask.shape, mask.dtype)
            tm[name][0] += t1 - t0
            tm[name][1] += time.perf_counter() - t1
            tot[name] += 8 * len(data)
        if i < n_code:
            t0 = time.perf_counter()
            data, _ = encode_with_stats(mask, cm)
            t1 = time.perf_counter()
            back = decode(data, cm)
            tm["learned"][0] += t1 - t0
            tm["learned"][1] += time.perf_counter() - t1
            coded["file_bits"] += 8 * len(data)
            coded["payload_bits"] += 8 * len(unpack(data)[1])
            coded["ideal_bits"] += ib
            coded["px"] += mask.size
            coded["lossless"] &= bool(np.array_equal(back, mask))
    print(f"\n{label}: {len(rel_paths)} images, {px / 1e6:.2f} MP; model {cm.name} {cm.config}")
    print(f"{'codec':<22}{'bits/pixel':>12}{'enc MP/s':>10}{'dec MP/s':>10}")
    rows = sorted(tot.items(), key=lambda kv: kv[1])
    for name, bits in rows:
        label = "learned (ideal)" if name == "ideal" else name
        e = d = ""
        if name in tm:
            e = f"{px / 1e6 / tm[name][0]:.2f}" if tm[name][0] else ""
            d = f"{px / 1e6 / tm[name][1]:.2f}" if tm[name][1] else ""
        print(f"{label:<22}{bits / px:>12.4f}{e:>10}{d:>10}")
    if coded["px"]:
        cpx = coded["px"] / 1e6
        print(f"\nactual coding on {n_code} images ({cpx:.2f} MP), lossless: {coded['lossless']}")
        print(f"  ideal {coded['ideal_bits'] / coded['px']:.4f} bpp, payload "
              f"{coded['payload_bits'] / coded['px']:.4f} bpp "
              f"(+{100 * (coded['payload_bits'] / coded['ideal_bits'] - 1):.2f}% over ideal), "
              f"whole .mcz file {coded['file_bits'] / coded['px']:.4f} bpp "
              f"(+{100 * (coded['file_bits'] / coded['ideal_bits'] - 1):.2f}%)")
        act = coded["file_bits"] / coded["px"]
        for ref in ("context-model-primed", "jxl"):
            if ref in tot and coded["px"] == px:
                print(f"  .mcz / {ref}: {act / (tot[ref] / px):.3f}")
        print(f"  learned encode {cpx / tm['learned'][0]:.3f} MP/s, decode {cpx / tm['learned'][1]:.3f} MP/s, "
              f"{tm['learned'][1] / n_code:.2f} s per image decode")


def baseline_table(root: Path, train: list[str], test: list[str]):
    """Bits per pixel on `test` of the classical codecs, the empty-start context model and the
    context models primed on `train` (no learned model)."""
    from mc_codec.classical import available_codecs
    from mc_codec.context_model import context_model_bits
    from mc_codec.data.masks import read_mask
    from mc_codec.primed import fit_context_prior

    prior = fit_context_prior((read_mask(root / r) for r in train), 12)
    codecs = available_codecs()
    tot = {k: 0.0 for k in ["context-model-ideal", "context-model-primed", "context-model-8-primed", *codecs]}
    px = 0
    for rel in test:
        mask = read_mask(root / rel)
        px += mask.size
        tot["context-model-ideal"] += context_model_bits(mask)
        tot["context-model-primed"] += prior.bits(mask, 4)
        tot["context-model-8-primed"] += prior.bits(mask, 8)
        for name, c in codecs.items():
            tot[name] += 8 * len(c.encode(mask))
    print(f"{'codec':<22}{'bits/pixel':>12}")
    for name, bits in sorted(tot.items(), key=lambda kv: kv[1]):
        print(f"{name:<22}{bits / px:>12.4f}")
