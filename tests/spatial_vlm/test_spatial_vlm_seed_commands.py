"""Issue 16: the seed's own command lines (spatial_vlm_x3.md), paths replaced and sizes tiny, run
end to end with `mc spatial-vlm` as written: the builder, the evaluator (on a tiny local Qwen2-VL),
the zero-shot pipeline, the one-batch dataloader check and `FREEZE_VISION=1` SFT."""

import json

import pytest

from mc_core.testing import invoke
from mc_spatial_vlm.metrics import SEED_METRIC_KEYS


def mc(*args):
    r = invoke("spatial-vlm", *map(str, args))
    assert r.exit_code == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    import torch

    from mc_spatial_vlm.data.demo import make_demo_data
    from mc_spatial_vlm.models.tiny_qwen2vl import build_tiny_qwen2vl

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("seed_cmds")
    data = root / "scannet_inpainted_dilate002_15obj_5frames_corrected_x3"
    make_demo_data(data, train_scenes=1, val_scenes=1, objects_per_scene=2, width=40, height=32, seed=6)
    model = build_tiny_qwen2vl(root / "RoboRefer-2B-Depth-Align", image_size=28)
    tasks = root / "tmp" / "spatial_tasks_x3"
    # tools/build_spatial_tasks_x3.py, as the seed writes it
    mc("build", "--data_root", data, "--out_dir", tasks, "--mode", "anchor", "--anchor_k", "1", "--alpha", "0.45",
       "--use_dilated_mask", "--emit_concat", "1")
    return root, data, model, tasks


def test_seed_builder_command(seed_run):
    _, _, _, tasks = seed_run
    names = sorted(p.name for p in tasks.glob("*.json"))
    assert names == sorted(["t1_train_multi.json", "t1_val_multi.json", "t1_train_concat.json", "t1_val_concat.json",
                            "t2a_train_multi.json", "t2a_val_multi.json", "t2b_train_multi.json",
                            "t2b_val_multi.json"])
    assert (tasks / "marked_abs" / "validation").is_dir() and (tasks / "concat_abs").is_dir()


def test_seed_evaluator_command(seed_run):
    root, _, model, tasks = seed_run
    out = root / "runs" / "eval_spatial_x3" / "t1_val_multi.json"
    # tools/eval_spatial_tasks.py, as the seed writes it (plus --limit and --device, its own flags)
    r = mc("eval", "--model_name_or_path", model, "--data_json", tasks / "t1_val_multi.json", "--image_folder", "/",
           "--chat_template", "qwen2", "--image_aspect_ratio", "resize", "--max_new_tokens", "4",
           "--output_json", out, "--limit", "3", "--device", "cpu", "--image-size", "28", "-q")
    res = json.loads(out.read_text())
    assert res["metrics"]["total"] == 3 and set(SEED_METRIC_KEYS) <= set(res["metrics"])
    assert all(x["error"] is None for x in res["results"])
    assert "hit@mask" in r.stdout and "strict" in r.stdout


def test_seed_zero_shot_pipeline(seed_run):
    root, data, _, tasks = seed_run
    # scripts/run_zeroshot_x3.sh: builds if missing, evaluates the four val sets, prints a summary
    r = mc("zero-shot", "--model", "center", "--data_root", data, "--tasks-dir", tasks,
           "--out_dir", root / "runs" / "zs", "-q")
    for name in ("t1_val_multi", "t1_val_concat", "t2a_val_multi", "t2b_val_multi"):
        assert name in r.stdout
        assert (root / "runs" / "zs" / "eval" / f"{name}.json").is_file()
    header = r.stdout.splitlines()[0].split()
    assert header[:8] == ["task", "total", "hit_at_mask", "not_visible_accuracy", "mean_l2_error", "success_002",
                          "success_005", "success_010"]
    assert "hit_at_mask_strict" in header


def test_seed_dataloader_check_and_freeze_vision_sft(seed_run, monkeypatch):
    root, _, model, tasks = seed_run
    # scripts/check_dataloader_t1_x3.py
    r = mc("check-dataloader", "--data_json", tasks / "t1_train_multi.json", "--model_name_or_path", model,
           "--image-size", "28")
    assert r.stdout.strip().splitlines()[-1] == "OK: one-batch dataloader check passed"
    assert "media['image']: len = 2" in r.stdout
    # FREEZE_VISION=1 bash scripts/run_sft_t1_x3.sh
    monkeypatch.setenv("FREEZE_VISION", "1")
    out = root / "runs" / "train" / "mv_consistency_sft_x3"
    mc("sft", "--model_name_or_path", model, "--data_json", tasks / "t1_train_multi.json", "--out_dir", out,
       "--image_aspect_ratio", "resize", "--model_max_length", "8192", "--max_steps", "2", "--image-size", "28",
       "--device", "cpu", "-q")
    meta = json.loads((out / "mc_meta.json").read_text())
    assert meta["args"]["freeze_vision"] is True and meta["steps"] == 2
    assert (out / "train.log").is_file()
    # the vision tower did not move; the language model did
    from safetensors.torch import load_file

    def tensors(folder):
        out = {}
        for f in sorted(folder.glob("*.safetensors")):
            out.update(load_file(str(f)))
        return out

    before, after = tensors(model), tensors(out)
    vision = [k for k in before if k.startswith("visual.") or ".visual." in k]
    assert vision and all((before[k] == after[k]).all() for k in vision)
    assert any(not (before[k] == after[k]).all() for k in before if k not in vision and k in after)
