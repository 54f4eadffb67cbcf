"""Supervised vs unsupervised 3D attention for the pointflow-policy, from one run on one CPU core.

Collects demos of `unplug_charger_like` with the package's own scripted sim (train and valid
splits), precomputes attention masks, trains two policies that differ only in --attention-weight
(same seed, steps, batches and noise), evaluates both on the validation split and prints:
action error of sampled chunks, attention IoU against the masks, training speed, and how long
loading the training items takes with precomputed masks vs on the fly. Then closed-loop rollouts
in held-out scenes (the same scenes for every policy): success rates (Wilson 95% intervals) and
distances to the grasp pose of both policies, the scripted expert (upper bound), a policy that
holds its start pose and a replay of the mean training demo.

The default recipe is the one the package README found to solve the task in closed loop within
about 15 minutes: 200 training scenes (the grasp pose varies per scene; 16 scenes gave 1/30
successes), 2400 steps with a cosine learning-rate decay, 100 held-out scenes. It takes about
15 minutes on one core of a shared 2-core machine (measured: 13; collecting the demos 1,
training 4-5 per policy, rollouts about 3.5); the old 16-scene recipe is
`--train-episodes 16 --steps 600 --lr-decay-steps 0 --rollout-episodes 30`.

    uv run python benchmarks/pointflow_policy.py            # about 15 minutes on one core
    uv run python benchmarks/pointflow_policy.py --steps 200 --train-episodes 6   # quick look
    uv run python benchmarks/pointflow_policy.py --work-dir .bench/pf   # keeps demos and runs; a rerun
                                                                        # continues them (training resumes
                                                                        # when --lr-decay-steps is kept)
    uv run python benchmarks/pointflow_policy.py --noise 0.03   # DART-style training demos
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-episodes", type=int, default=200)
    ap.add_argument("--noise", type=float, default=0.0,
                    help="DART-style training demos: the gripper drifts about NOISE metres off the expert's path "
                         "(collect-demos --noise; the validation demos stay clean)")
    ap.add_argument("--valid-episodes", type=int, default=4)
    ap.add_argument("--episode-steps", type=int, default=40)
    ap.add_argument("--n-points", type=int, default=512, help="points per observation (and mask)")
    ap.add_argument("--steps", type=int, default=2400, help="training steps per policy")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr-decay-steps", type=int, default=None,
                    help="cosine decay of the learning rate to 1%% at this step (train --lr-decay-steps; "
                         "default: --steps; 0 = constant)")
    ap.add_argument("--attention-weight", type=float, default=1.0, help="weight of the supervised run")
    ap.add_argument("--attention-pos-weight", type=float, default=1.0,
                    help="BCE pos_weight of the supervised run (runs/supervised_pw<P> when not 1)")
    ap.add_argument("--euler-steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work-dir", default=None, help="keep demos and runs here (default: a temporary folder)")
    ap.add_argument("--rollout-episodes", type=int, default=100, help="held-out scenes per policy (0 = no rollouts)")
    ap.add_argument("--execute-steps", type=int, default=8, help="poses executed per predicted chunk")
    ap.add_argument("--max-steps", type=int, default=None, help="poses per rollout (default 2 x episode steps)")
    ap.add_argument("--out-json", default=None)
    args = ap.parse_args()
    if args.lr_decay_steps is None:
        args.lr_decay_steps = args.steps

    import torch

    torch.set_num_threads(1)
    from mc_core.progress import set_quiet

    set_quiet(True)
    from mc_pointflow.data.policy_data import load_policy_arrays
    from mc_pointflow.evaluate import evaluate_policy
    from mc_pointflow.masks import MaskConfig
    from mc_pointflow.models.flow_policy import load_policy
    from mc_pointflow.preprocess import preprocess_buffer
    from mc_pointflow.sim.collect import collect_demos
    from mc_pointflow.train import train

    tmp = None
    if args.work_dir:
        work = Path(args.work_dir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="pointflow_policy_")
        work = Path(tmp.name)
    task_dir = work / "demos" / data_tag(args)
    t0 = time.perf_counter()
    for split, n, noise in (("train", args.train_episodes, args.noise), ("valid", args.valid_episodes, 0.0)):
        collect_demos("unplug_charger_like", n, split, task_dir, seed=args.seed, steps=args.episode_steps,
                      image_size=48, n_cams=3, n_points=max(1500, args.n_points), noise=noise)
    t_collect = time.perf_counter() - t0
    cfg = MaskConfig(object_ids=(31, 92), distance_threshold=0.03, gripper_radius=0.05, n_points=args.n_points)
    train_buf, valid_buf = task_dir / "train_segmented", task_dir / "valid_segmented"

    # loading the training items: on the fly (before preprocessing) vs precomputed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        fly = load_policy_arrays(train_buf, n_obs_steps=2, horizon=16, mask_config=cfg)
        t_fly = time.perf_counter() - t0
    t0 = time.perf_counter()
    for b in (train_buf, valid_buf):
        preprocess_buffer(b, cfg)
    t_pre = time.perf_counter() - t0
    t0 = time.perf_counter()
    pre = load_policy_arrays(train_buf, n_obs_steps=2, horizon=16)
    t_load = time.perf_counter() - t0
    assert pre.precomputed and (pre.attention_mask == fly.attention_mask).all()
    n_items = len(pre)
    print(f"demos: {args.train_episodes} train (noise {args.noise:g} m) + {args.valid_episodes} valid episodes x "
          f"{args.episode_steps} steps "
          f"({t_collect:.1f} s); {n_items} training items of {args.n_points} points, "
          f"mask coverage {pre.attention_mask.mean():.3f}")
    print(f"loading the training items: on the fly {t_fly:.2f} s, precomputed {t_load:.2f} s "
          f"({t_fly / t_load:.1f}x); preprocessing both splits took {t_pre:.2f} s")

    results = {}
    for name, weight in (("supervised", args.attention_weight), ("unsupervised", 0.0)):
        run = work / "runs" / run_name(name, args)
        resume = (run / "checkpoints" / "last" / "state.safetensors").exists()
        res = train(train_buf, run, valid_buffer=valid_buf, steps=args.steps, device="cpu", threads=1, resume=resume,
                    train_config={"attention_weight": weight, "batch_size": args.batch_size, "seed": args.seed,
                                  "lr_decay_steps": args.lr_decay_steps,
                                  "attention_pos_weight": args.attention_pos_weight if weight > 0 else 1.0,
                                  "log_every": 50, "ckpt_every": 0, "val_items": 32})
        model, _ = load_policy(run / "checkpoints" / "final")
        val = load_policy_arrays(valid_buf, n_obs_steps=2, horizon=16)
        _, summary = evaluate_policy(model, val, steps=args.euler_steps, seed=args.seed)
        results[name] = {"attention_weight": weight, "train_steps_per_s": res["steps_per_s"],
                         "train_seconds": res["train_seconds"], "final_train_loss": res["final_loss"], **summary}
        print(f"{name}: trained {args.steps} steps in {res['train_seconds']:.0f} s")

    s, u = results["supervised"], results["unsupervised"]
    rows = [
        ("validation flow loss (velocity MSE)", "flow_loss", "{:.4f}"),
        ("position error, mean over chunk (cm)", "pos_err_m", "{:.2f}", 100),
        ("position error, last action of chunk (cm)", "final_pos_err_m", "{:.2f}", 100),
        ("rotation error (deg)", "rot_err_deg", "{:.2f}"),
        ("gripper open/closed accuracy", "gripper_acc", "{:.3f}"),
        ("attention IoU (sigmoid >= 0.5)", "attention_iou", "{:.3f}"),
        ("attention IoU (top-k logits)", "attention_topk_iou", "{:.3f}"),
        ("attended fraction predicted / true", None, None),
        (f"training speed (steps/s, batch {args.batch_size}, 1 thread)", "train_steps_per_s", "{:.2f}"),
    ]
    print(f"\n{'':46s} {'supervised':>12s} {'unsupervised':>13s}")
    for r in rows:
        label, key, fmt = r[0], r[1], r[2]
        if key is None:
            a = f"{s['attention_coverage_pred']:.3f}/{s['attention_coverage_true']:.3f}"
            b = f"{u['attention_coverage_pred']:.3f}/{u['attention_coverage_true']:.3f}"
        else:
            k = r[3] if len(r) > 3 else 1
            a, b = fmt.format(s[key] * k), fmt.format(u[key] * k)
        print(f"{label:46s} {a:>12s} {b:>13s}")
    print(f"(validation: {s['items']} timesteps of {args.valid_episodes} held-out episodes; "
          f"{args.euler_steps} Euler steps, seed {args.seed})")
    rollouts = run_rollout_table(args, work, train_buf) if args.rollout_episodes > 0 else {}
    if args.out_json:
        Path(args.out_json).write_text(json.dumps({"args": vars(args), "results": results, "rollouts": rollouts,
                                                   "load_on_the_fly_s": t_fly, "load_precomputed_s": t_load},
                                                  indent=2))
    if tmp is not None:
        tmp.cleanup()


def data_tag(args) -> str:
    """Folder of the demos (and of the runs trained on them) under --work-dir."""
    return (f"unplug_charger_like_e{args.train_episodes}" + (f"_noise{args.noise:g}" if args.noise else "")
            + (f"_p{args.n_points}" if args.n_points != 512 else ""))


def run_name(name: str, args) -> str:
    name = f"{name}_pw{args.attention_pos_weight:g}" if name == "supervised" and args.attention_pos_weight != 1 else name
    return f"{data_tag(args)}/{name}"


def run_rollout_table(args, work: Path, train_buf: Path) -> dict:
    """Closed-loop success of both policies and three reference policies on the same held-out scenes."""
    from mc_pointflow import rollout as ro
    from mc_pointflow.models.flow_policy import load_policy
    from mc_pointflow.sim.env import TabletopEnv

    env = TabletopEnv("unplug_charger_like", image_size=48, n_cams=3, n_points=max(1500, args.n_points),
                      demo_steps=args.episode_steps)
    max_steps = args.max_steps or 2 * args.episode_steps
    policies = {}
    for name in ("supervised", "unsupervised"):
        model, _ = load_policy(work / "runs" / run_name(name, args) / "checkpoints" / "final")
        policies[name] = ro.FlowPolicy(model, args.n_points, euler_steps=args.euler_steps, seed=args.seed)
    k = args.execute_steps
    policies.update({"scripted expert": ro.ExpertPolicy(k), "hold start pose": ro.HoldPolicy(k),
                     "mean training demo": ro.MeanDemoPolicy.from_buffer(train_buf, k)})
    out = {}
    print(f"\nclosed loop: {args.rollout_episodes} held-out scenes, {k} poses per chunk, at most {max_steps} poses; "
          "success = gripper closes within 2 cm of the grasp pose")
    print(f"{'':20s} {'success (Wilson 95%)':>30s} {'final dist mean/median':>24s} {'closest':>8s} "
          f"{'closings':>8s} {'s/episode':>9s}")
    first = min(30, args.rollout_episodes)  # the scenes of the README's earlier 30-episode figures
    for name, pol in policies.items():
        rows, summ, _ = ro.run_rollouts(env, pol, episodes=args.rollout_episodes, seed=args.seed,
                                        max_steps=max_steps, execute_steps=k)
        out[name] = {**summ, f"first_{first}": ro.summarize(rows[:first])}
        dist = f"{100 * summ['final_dist_m_mean']:.1f}/{100 * summ['final_dist_m_median']:.1f} cm"
        print(f"{name:20s} {ro.wilson_text(summ):>30s} {dist:>24s} {100 * summ['min_dist_m_mean']:6.1f}cm "
              f"{summ['grasp_attempts_mean']:8.2f} {summ['seconds'] / summ['episodes']:9.2f}")
    if first < args.rollout_episodes:
        print(f"first {first} scenes: " + "; ".join(f"{n} {ro.wilson_text(o[f'first_{first}'])}" for n, o in out.items()))
    return out


if __name__ == "__main__":
    main()
