"""The codec matrix (the seed's run_lm_codec_matrix): learned codec vs classical codecs per image."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np

COLUMNS = ["image", "codec", "bytes", "bits_per_pixel", "encode_s", "decode_s", "lossless"]
LEARNED = "learned"
IDEAL = "learned-ideal"
CONTEXT = "context-model-ideal"
PRIMED = {4: "context-model-primed", 8: "context-model-8-primed"}


def check_codecs(codecs) -> list[str] | None:
    """The classical codec names asked for (None: all installed); an unknown name, or one whose
    library is not installed, is a usage error naming it."""
    from mc_codec.classical import CLASSICAL_CODECS, available_codecs
    from mc_core.errors import UsageError
    from mc_core.registry import suggest

    if codecs is None:
        return None
    names = [c.strip() for c in (codecs.split(",") if isinstance(codecs, str) else codecs) if c.strip()]
    if not names:
        raise UsageError("codecs is empty: name at least one classical codec")
    for n in names:
        if n not in CLASSICAL_CODECS:
            hint = suggest(n, list(CLASSICAL_CODECS)) or f" (choose from: {', '.join(CLASSICAL_CODECS)})"
            raise UsageError(f"unknown codec {n!r}{hint}")
        if n not in available_codecs():
            raise UsageError(f"codec {n!r} is not installed here (its library is missing)")
    return names


def codec_matrix(data_root=None, checkpoint=None, *, subdir: str | None = None, splits_dir=None,
                 split: str = "test", out_csv="codec_matrix.csv", codecs=None, arch: str | None = None,
                 jobs: int = 0, progress=None) -> dict:
    """The codec matrix: every image of `split` coded by the learned codec (verified lossless),
    its ideal code length, the context model (empty start; and primed from the training split,
    4 and 8 neighbours, when the checkpoint holds ``context_prior.npz``) and the classical `codecs`; writes `out_csv` and
    the bar chart beside it (.png). With no `data_root`, the shipped samples and their split.
    Returns ``{"rows", "summary", "images", "pixels", "model", "checkpoint", "csv", "chart"}``."""
    import torch

    from mc_codec.coding.api import as_codec, checkpoint_files
    from mc_codec.data.masks import folder_of, split_files, splits_for
    from mc_codec.workers import default_jobs
    from mc_core.errors import BadInputError, UsageError
    from mc_core.paths import check_outputs

    if split not in ("train", "val", "test"):
        raise UsageError(f"split must be train, val or test, got {split!r}")
    wanted = check_codecs(codecs)
    if data_root is None:
        from mc_codec.samples import sample_root

        data_root = sample_root() / "masks"
        if splits_dir is None:
            splits_dir = sample_root() / "splits"
    if splits_dir is None:
        raise UsageError("splits_dir is required with data_root")
    out_csv = Path(out_csv)
    chart = out_csv.with_suffix(".png")
    folder = folder_of(data_root, subdir)
    cm = as_codec(checkpoint)
    if arch and cm.name != arch:
        raise BadInputError(cm.path, f"checkpoint holds a {cm.name!r} model, not {arch!r}")
    rel = splits_for(data_root, subdir, splits_dir)[split]
    if not rel:
        raise BadInputError(Path(splits_dir) / f"{split}.txt", "split is empty")
    check_outputs([*(folder / r for r in rel), *checkpoint_files(cm.path), *split_files(splits_dir)],
                  [out_csv, chart])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = run_matrix(folder, rel, cm, codecs=wanted, jobs=jobs or default_jobs(), progress=progress)
    finally:
        torch.set_num_threads(threads)
    summary = summarize(rows)
    write_csv(out_csv, rows)
    plot_summary(chart, summary, title=f"{len(rel)} {split} masks, model {cm.name}")
    pix = sum(r["_pixels"] for r in rows if r["codec"] == LEARNED)
    return {"rows": rows, "summary": summary, "images": len(rel), "pixels": pix, "model": cm.name,
            "checkpoint": str(cm.path), "csv": str(out_csv), "chart": str(chart)}


def run_matrix(folder: Path, rel_paths: list[str], model, *, codecs=None, progress=None,
               jobs: int = 1) -> list[dict]:
    """Rows of the matrix for every image, in the order of `rel_paths`.

    With ``jobs > 1`` images are coded in that many worker processes (one torch thread each);
    every timing is still measured around one codec call on one image inside a worker.
    """
    from mc_codec.workers import map_with_model

    task = functools.partial(_image_rows, folder, codecs=codecs)
    chunks = map_with_model(task, rel_paths, model, jobs, progress)
    return [row for chunk in chunks for row in chunk]


def _image_rows(folder: Path, model, rel: str, *, codecs=None) -> list[dict]:
    from mc_codec.classical import available_codecs
    from mc_codec.coding.api import decode, encode_with_stats
    from mc_codec.context_model import context_model_bits
    from mc_codec.data.masks import read_mask
    from mc_codec.evaluate import image_bits
    from mc_codec.primed import checkpoint_prior
    from mc_codec.rows import image_tokens

    classical = available_codecs()
    if codecs:
        classical = {k: v for k, v in classical.items() if k in codecs}
    rows = []
    path = folder / rel
    mask = read_mask(path)
    px = mask.size
    t0 = time.perf_counter()
    data, _ = encode_with_stats(mask, model, source=path)
    t1 = time.perf_counter()
    back = decode(data, model, source=path)
    t2 = time.perf_counter()
    rows.append(_row(rel, LEARNED, len(data), px, t1 - t0, t2 - t1, np.array_equal(back, mask)))
    ids = mask.astype(np.int64)
    if ids.max() < model.vocab_size:
        t0 = time.perf_counter()
        tok = image_tokens(ids, model.use_2d)
        bits = image_bits(model.model, tok)["bits"]
        rows.append(_row(rel, IDEAL, bits / 8, px, time.perf_counter() - t0, None, None))
    t0 = time.perf_counter()
    cbits = context_model_bits(mask)
    rows.append(_row(rel, CONTEXT, cbits / 8, px, time.perf_counter() - t0, None, None))
    prior = checkpoint_prior(model.path) if model.path.is_dir() else None
    if prior is not None and int(mask.max()) < prior.vocab_size:
        for n in prior.neighbourhoods:
            t0 = time.perf_counter()
            pbits = prior.bits(mask, n)
            rows.append(_row(rel, PRIMED[n], pbits / 8, px, time.perf_counter() - t0, None, None))
    for name, codec in classical.items():
        if not codec.supports(mask):
            continue
        t0 = time.perf_counter()
        enc = codec.encode(mask)
        t1 = time.perf_counter()
        dec = codec.decode(enc, mask.shape, mask.dtype)
        t2 = time.perf_counter()
        rows.append(_row(rel, name, len(enc), px, t1 - t0, t2 - t1, np.array_equal(dec, mask)))
    return rows


def _row(image, codec, nbytes, pixels, enc_s, dec_s, lossless) -> dict:
    return {"image": image, "codec": codec, "bytes": nbytes, "bits_per_pixel": 8.0 * nbytes / pixels,
            "encode_s": enc_s, "decode_s": dec_s, "lossless": lossless, "_pixels": pixels}


def summarize(rows: list[dict]) -> list[dict]:
    by: dict[str, dict] = {}
    for r in rows:
        s = by.setdefault(r["codec"], {"codec": r["codec"], "bytes": 0.0, "pixels": 0, "enc": 0.0,
                                       "dec": 0.0, "has_dec": True, "lossless": True, "images": 0})
        s["bytes"] += r["bytes"]
        s["pixels"] += r["_pixels"]
        s["enc"] += r["encode_s"] or 0.0
        s["images"] += 1
        if r["decode_s"] is None:
            s["has_dec"] = False
        else:
            s["dec"] += r["decode_s"]
        if r["lossless"] is False:
            s["lossless"] = False
    png = by.get("png")
    out = []
    for s in by.values():
        bpp = 8 * s["bytes"] / s["pixels"]
        out.append({
            "codec": s["codec"], "images": s["images"], "bpp": bpp,
            "ratio_to_png": (s["bytes"] / png["bytes"]) if png else float("nan"),
            "encode_mp_s": s["pixels"] / 1e6 / s["enc"] if s["enc"] > 0 else float("nan"),
            "decode_mp_s": (s["pixels"] / 1e6 / s["dec"]) if s["has_dec"] and s["dec"] > 0 else float("nan"),
            "lossless": s["lossless"] if s["has_dec"] else None,
        })
    return sorted(out, key=lambda s: s["bpp"])


def format_summary(summary: list[dict]) -> str:
    lines = [f"{'codec':<24} {'bpp':>8} {'vs PNG':>7} {'enc MP/s':>9} {'dec MP/s':>9}  lossless"]
    for s in summary:
        dec = "-" if s["decode_mp_s"] != s["decode_mp_s"] else f"{s['decode_mp_s']:.2f}"
        ll = "(ideal)" if s["lossless"] is None else ("yes" if s["lossless"] else "NO")
        lines.append(f"{s['codec']:<24} {s['bpp']:>8.4f} {s['ratio_to_png']:>7.3f} "
                     f"{s['encode_mp_s']:>9.2f} {dec:>9}  {ll}")
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict]) -> None:
    from mc_core.atomic import write_csv as write_table

    write_table(path, rows, COLUMNS)


def plot_summary(path: Path, summary: list[dict], title: str = "codec matrix") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mc_core.atomic import atomic_path

    names = [s["codec"] for s in summary]
    vals = [s["bpp"] for s in summary]
    colors = ["C3" if n.startswith("learned") else ("C1" if n.startswith("context-model") else "C0")
              for n in names]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(names) + 1.2), dpi=100)
    ax.barh(names[::-1], vals[::-1], color=colors[::-1])
    for i, v in enumerate(vals[::-1]):
        ax.text(v, i, f" {v:.4f}", va="center", fontsize=8)
    ax.set_xlabel("bits per pixel (lower is better)")
    ax.set_title(title)
    ax.set_xlim(0, max(vals) * 1.25 if vals else 1)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
