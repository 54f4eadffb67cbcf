"""How RandAR's inpainting fill is decoded, and what each choice costs, against the nearest fill.

    uv run python benchmarks/landcover_inpaint_decode.py --data eval_32.npz --checkpoint run/checkpoints/final

On the same test maps and masks (`mc landcover eval-inpaint`'s library code, `eval_inpaint`, with
one seed: every method sees the same maps and masks) for each setting (default: 25% and 50%
interior masks, 50% random masks) it fills with the nearest visible pixel and with RandAR decoded

* `marginal`: each hidden pixel's argmax given the known pixels, one pass;
* `confident-K`: most confident pixels first, K pixels fixed per pass, each pass conditioned on the
  pixels decoded before (greedy);
* `sampled`: one joint sample in random order (the `sampled` fill of the same run),

and prints accuracy and macro F1, their paired difference to the nearest fill with 95% intervals
(`mc_landcover.inpaint.metrics.paired_difference`: t over images for accuracy, bootstrap over
images for macro F1) and the seconds each decoding took (CPU, --threads threads).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--n-images", type=int, default=200)
    ap.add_argument("--settings", default="interior:0.25,interior:0.5,random:0.5")
    ap.add_argument("--pixels-per-step", default="16,64", help="K values for confident-first decoding")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-results", default=None)
    args = ap.parse_args()

    import torch

    from mc_core.progress import set_quiet
    from mc_landcover.inpaint.experiment import eval_inpaint
    from mc_landcover.inpaint.metrics import f1_per_class, inpaint_accuracy, paired_difference
    from mc_landcover.legend import NUM_CLASSES

    torch.set_num_threads(args.threads)
    set_quiet(True)
    ks = [int(k) for k in args.pixels_per_step.split(",") if k]
    out = {}
    for setting in args.settings.split(","):
        mask_type, ratio = setting.split(":")
        common = dict(checkpoint=args.checkpoint, n_images=args.n_images, mask_type=mask_type,
                      mask_ratio=float(ratio), seed=args.seed, device="cpu")
        near = eval_inpaint(args.data, method="nearest", **{k: v for k, v in common.items() if k != "checkpoint"})
        runs = {"marginal": eval_inpaint(args.data, method="randar", decode="marginal", **common)}
        for k in ks:
            runs[f"confident-{k}"] = eval_inpaint(args.data, method="randar", decode="confident", pixels_per_step=k,
                                                  **common)
        truth, hidden = near.maps, near.hidden
        fills = {"nearest": (near.infill.argmax, near.record["metrics"]["fill_seconds"])}
        for name, r in runs.items():
            assert (r.hidden == hidden).all() and (r.maps == truth).all()
            fills[name] = (r.infill.argmax, r.record["metrics"]["fill_seconds"])
        fills["sampled"] = (runs["marginal"].infill.sampled, float("nan"))
        print(f"\n{mask_type} mask, ratio {ratio}: {len(truth)} test maps of {truth.shape[1]}x{truth.shape[2]}")
        print(f"{'fill':14s} {'accuracy':>9s} {'macroF1':>8s} {'d acc vs nearest [95%]':>30s} "
              f"{'d macroF1 vs nearest [95%]':>30s} {'seconds':>8s}")
        rows = {}
        for name, (pred, secs) in fills.items():
            acc = sum(inpaint_accuracy(pred[i], truth[i], hidden[i]) for i in range(len(truth))) / len(truth)
            f1 = f1_per_class(pred[hidden], truth[hidden], NUM_CLASSES)
            mf1 = float(f1[~(f1 != f1)].mean())
            row = {"accuracy": acc, "macro_f1": mf1, "seconds": secs}
            text = ""
            if name != "nearest":
                d = paired_difference(truth, hidden, pred, near.infill.argmax, NUM_CLASSES, seed=args.seed)
                row["vs_nearest"] = d
                a, m = d["accuracy"], d["macro_f1"]
                text = (f"{a['mean']:+.4f} [{a['low']:+.4f}, {a['high']:+.4f}]   "
                        f"{m['mean']:+.4f} [{m['low']:+.4f}, {m['high']:+.4f}]")
            print(f"{name:14s} {acc:9.4f} {mf1:8.4f} {text:>62s} {secs:8.1f}")
            rows[name] = row
        out[setting] = rows
    if args.save_results:
        Path(args.save_results).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
