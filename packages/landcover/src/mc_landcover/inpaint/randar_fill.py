"""Inpainting with a RandAR model: each hidden pixel is conditioned on all known pixels.

argmax: per-pixel argmax of p(x_i | known) (`predict_masked`); probabilities from the same call
(used for log loss); sampled: one joint sample of the hidden region in random order (`sample`).
"""

from __future__ import annotations

import numpy as np

from mc_landcover.inpaint.baselines import Infill


def randar_fill(model, x: np.ndarray, hidden: np.ndarray, *, device="cpu", batch_size: int = 32,
                temperature: float = 1.0, top_k: int | None = None, seed: int = 0,
                progress_desc: str | None = None) -> Infill:
    import torch

    from mc_core.progress import progress
    from mc_landcover.loading import check_map_size

    x = check_map_size(np.asarray(x, dtype=np.int64), model)
    hidden = np.asarray(hidden, dtype=bool)
    gen = torch.Generator().manual_seed(seed)  # CPU generator: the same draws on every device
    probs, argmax, sampled = [], [], []
    starts = range(0, x.shape[0], batch_size)
    for s in progress(starts, desc=progress_desc or "inpaint (randar)", total=len(starts)):
        xb = torch.from_numpy(x[s:s + batch_size]).to(device)
        known = torch.from_numpy(~hidden[s:s + batch_size]).to(device)
        with torch.no_grad():
            logits = model.predict_masked(xb, known)
            p = torch.softmax(logits.float(), dim=-1)
            draw = model.sample(xb.shape[0], known=xb, known_mask=known, temperature=temperature,
                                top_k=top_k, generator=gen)
        p = p.cpu().numpy().astype(np.float64)
        am = np.where(~known.cpu().numpy(), p.argmax(-1), xb.cpu().numpy())
        draw = np.asarray(draw.cpu() if hasattr(draw, "cpu") else draw).astype(np.int64)
        draw = np.where(~known.cpu().numpy(), draw, xb.cpu().numpy())
        probs.append(p)
        argmax.append(am)
        sampled.append(draw)
    return Infill(np.concatenate(probs), np.concatenate(argmax), np.concatenate(sampled))
