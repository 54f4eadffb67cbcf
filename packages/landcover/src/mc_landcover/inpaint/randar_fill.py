"""Inpainting with a RandAR model: each hidden pixel is conditioned on all known pixels.

argmax: the filled map, decoded by `decode`:

* ``"marginal"``: every hidden pixel's argmax of p(x_i | known) in one pass (`predict_masked`);
* ``"confident"``: most confident pixels first: each step predicts every hidden pixel from the
  known and already decoded ones, and fixes the `pixels_per_step` of them whose argmax is most
  probable (greedy), so later pixels are conditioned on the decoded ones; ceil(hidden /
  pixels_per_step) passes.

probs: p(x_i | known) from one `predict_masked` call (used for log loss); sampled: one joint sample
of the hidden region in random order (`sample`).
"""

from __future__ import annotations

import numpy as np

from mc_landcover.inpaint.baselines import Infill

DECODES = ("marginal", "confident")


def confident_decode(model, x, known, pixels_per_step: int):
    """(B, H, W) fill of the pixels not in `known` (B, H, W bool), most confident first, greedy."""
    import torch

    x = x.clone()
    known = known.clone()
    b = x.shape[0]
    while True:
        left = ~known.view(b, -1)
        n_left = left.sum(1)
        if int(n_left.max()) == 0:
            return x
        logits = model.predict_masked(x, known).float().view(b, -1, model.num_classes)
        conf, cls = torch.softmax(logits, -1).max(-1)
        conf = torch.where(left, conf, torch.full_like(conf, -1.0))
        k = min(pixels_per_step, int(n_left.max()))
        top = conf.topk(k, dim=1).indices  # (B, k)
        take = torch.gather(left, 1, top)  # maps with fewer left pick known pixels too: skip those
        flat_x, flat_k = x.view(b, -1), known.view(b, -1)
        new = torch.where(take, torch.gather(cls, 1, top), torch.gather(flat_x, 1, top))
        flat_x.scatter_(1, top, new)
        flat_k.scatter_(1, top, torch.ones_like(take) | torch.gather(flat_k, 1, top))


def randar_fill(model, x: np.ndarray, hidden: np.ndarray, *, device="cpu", batch_size: int = 32,
                temperature: float = 1.0, top_k: int | None = None, seed: int = 0,
                progress_desc: str | None = None, decode: str = "marginal", pixels_per_step: int = 16) -> Infill:
    import torch

    from mc_core.progress import progress
    from mc_landcover.loading import check_map_size

    if decode not in DECODES:
        raise ValueError(f"decode must be one of {', '.join(DECODES)}, got {decode!r}")
    if not isinstance(pixels_per_step, int) or pixels_per_step < 1:
        raise ValueError(f"pixels_per_step must be a positive integer, got {pixels_per_step!r}")
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
        if decode == "confident":
            with torch.no_grad():
                am = confident_decode(model, xb, known, pixels_per_step).cpu().numpy()
        else:
            am = np.where(~known.cpu().numpy(), p.argmax(-1), xb.cpu().numpy())
        draw = np.asarray(draw.cpu() if hasattr(draw, "cpu") else draw).astype(np.int64)
        draw = np.where(~known.cpu().numpy(), draw, xb.cpu().numpy())
        probs.append(p)
        argmax.append(am)
        sampled.append(draw)
    return Infill(np.concatenate(probs), np.concatenate(argmax), np.concatenate(sampled))
