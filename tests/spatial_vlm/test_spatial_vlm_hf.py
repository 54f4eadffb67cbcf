"""hf-vlm, check-dataloader and sft on a tiny random Qwen2-VL built offline."""

import json
import os
from importlib.metadata import version

import pytest

from mc_core.errors import BadInputError
from mc_core.testing import invoke


def run(*args):
    r = invoke("spatial-vlm", *args)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import torch

    from mc_spatial_vlm.build import build_tasks
    from mc_spatial_vlm.data.demo import make_demo_data
    from mc_spatial_vlm.models.tiny_qwen2vl import build_tiny_qwen2vl

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("hf")
    make_demo_data(root / "data", train_scenes=1, val_scenes=1, objects_per_scene=2, width=48, height=40)
    build_tasks(root / "data", root / "tasks", mode="allpairs", warn=None)  # allpairs: concat samples for sure
    model = build_tiny_qwen2vl(root / "tiny", image_size=28)
    for name in ("t1_val_multi", "t1_val_concat", "t2b_train_multi"):
        samples = json.loads((root / "tasks" / f"{name}.json").read_text())[:4]
        (root / f"{name}_small.json").write_text(json.dumps(samples))
    return root, model


def test_hf_vlm_eval_multi_and_concat(setup, tmp_path):
    root, model = setup
    for name in ("t1_val_multi", "t1_val_concat"):
        out = tmp_path / f"{name}.json"
        code, stdout, err = run("eval", "--model", model, "--data-json", root / f"{name}_small.json",
                                "--output-json", out, "--max-new-tokens", "6", "--image-size", "28",
                                "--device", "cpu", "-q")
        assert code == 0, err
        res = json.loads(out.read_text())
        assert res["metrics"]["total"] == 4 and "hit_at_mask_strict" in res["metrics"]
        assert all(r["error"] is None for r in res["results"]), res["results"]
        assert all(isinstance(r["pred_text"], str) for r in res["results"])


def test_hf_vlm_eval_with_chat_template_override(setup, tmp_path):
    from mc_spatial_vlm.models.tiny_qwen2vl import CHAT_TEMPLATE

    root, model = setup
    tpl = tmp_path / "t.jinja"
    tpl.write_text(CHAT_TEMPLATE)
    for choice in ("qwen2", tpl):
        code, _, err = run("eval", "--model", model, "--data-json", root / "t1_val_concat_small.json",
                           "--output-json", tmp_path / "o.json", "--max-new-tokens", "3", "--image-size", "28",
                           "--chat-template", choice, "--device", "cpu", "-q")
        assert code == 0, err
    code, _, err = run("eval", "--model", model, "--data-json", root / "t1_val_concat_small.json",
                       "--output-json", tmp_path / "o.json", "--chat-template", "nope", "--device", "cpu")
    assert code == 2 and "chat_template must be" in err and "Traceback" not in err


def test_hf_predictor_applies_chat_template_with_one_image_item_per_image(setup):
    from mc_spatial_vlm.models.hf_vlm import load_processor, user_message

    _, model = setup
    proc = load_processor(model)
    text = proc.apply_chat_template([user_message(2, "where?")], add_generation_prompt=True, tokenize=False)
    assert text.count("<|image_pad|>") == 2 and text.endswith("<|im_start|>assistant\n")


def test_sft_labels_mask_the_prompt(setup):
    from mc_spatial_vlm.models.hf_vlm import load_processor
    from mc_spatial_vlm.sft import IGNORE_INDEX, SpatialSFTDataset

    root, model = setup
    proc = load_processor(model)
    samples = json.loads((root / "t1_val_multi_small.json").read_text())
    ds = SpatialSFTDataset(samples, proc, image_size=28)
    assert ds.conversation(0)["human"].startswith("<image>\n<image>\n")
    item = ds[0]
    kept = item["input_ids"][item["labels"] != IGNORE_INDEX]
    decoded = proc.tokenizer.decode(kept)
    assert decoded.startswith(samples[0]["conversations"][1]["value"])
    assert "<|im_end|>" in decoded and "<|image_pad|>" not in decoded
    assert (item["labels"][: len(item["labels"]) - len(kept)] == IGNORE_INDEX).all()


def test_check_dataloader_cli(setup):
    root, model = setup
    code, out, err = run("check-dataloader", "--data-json", root / "t1_val_multi_small.json", "--model", model,
                         "--batch-size", "2", "--image-size", "28")
    assert code == 0, err
    assert "media['image']: len = 2" in out and "pixel_values" in out
    assert out.strip().splitlines()[-1] == "OK: one-batch dataloader check passed"
    code, out, err = run("check-dataloader", "--data-json", root / "t1_val_concat_small.json", "--model", model,
                         "--image-size", "28")
    assert code == 0 and "media['image']: len = 1" in out


def _expected_data_sha256(data_json, image_folder="/"):
    """The documented data hash, computed here independently: sorted `name\\0sha256\\n` lines for the
    task JSON (by file name) and each image (by its path as the JSON writes it)."""
    import hashlib
    import os

    files = {data_json.name: data_json}
    for s in json.loads(data_json.read_text()):
        for img in [s["image"]] if isinstance(s["image"], str) else s["image"]:
            files[img] = img if os.path.isabs(img) else os.path.join(image_folder, img)
    lines = b"".join(name.encode() + b"\0" + hashlib.sha256(open(f, "rb").read()).hexdigest().encode() + b"\n"
                     for name, f in sorted(files.items()))
    return hashlib.sha256(lines).hexdigest()


def test_task_data_hash_follows_json_and_image_contents_not_location(setup, tmp_path):
    import shutil

    from mc_spatial_vlm.data.tasks import load_task_json, task_data_sha256

    root, _ = setup
    samples = json.loads((root / "t1_val_multi_small.json").read_text())
    a = tmp_path / "a"
    (a / "img").mkdir(parents=True)
    for s in samples:  # a copy with image paths relative to --image-folder
        rel = []
        for img in s["image"]:
            shutil.copy(img, a / "img" / os.path.basename(img))
            rel.append(f"img/{os.path.basename(img)}")
        s["image"] = rel
    (a / "task.json").write_text(json.dumps(samples))

    def data_hash(folder):
        return task_data_sha256(folder / "task.json", load_task_json(folder / "task.json"), folder)

    h = data_hash(a)
    assert h == _expected_data_sha256(a / "task.json", str(a))
    b = tmp_path / "moved"
    shutil.copytree(a, b)
    assert data_hash(b) == h  # same files elsewhere: same hash
    first = b / samples[0]["image"][0]
    first.write_bytes(first.read_bytes() + b"\0")
    assert data_hash(b) != h  # one image changed: another hash
    first.unlink()
    with pytest.raises(BadInputError, match="cannot read image"):
        data_hash(b)


@pytest.mark.e2e
def test_sft_loss_goes_down_and_model_reloads(setup, tmp_path):
    root, model = setup
    out = tmp_path / "sft"
    code, stdout, err = run("sft", "--model", model, "--data-json", root / "t2b_train_multi_small.json",
                            "--out-dir", out, "--max-steps", "10", "--batch-size", "2", "--lr", "1e-2",
                            "--image-size", "28", "--freeze-vision", "--device", "cpu", "--log-every", "0", "-q")
    assert code == 0, err
    log = json.loads((out / "train_log.json").read_text())
    losses = log["losses"]
    assert len(losses) == 10 and log["frozen_vision_parameters"] > 0
    assert sum(losses[-2:]) / 2 < 0.85 * sum(losses[:2]) / 2
    assert (out / "model.safetensors").is_file() and (out / "loss.csv").is_file()
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # mc_meta.json: base model, versions, args and the hash of the JSON and every image it trained on
    data = root / "t2b_train_multi_small.json"
    meta = json.loads((out / "mc_meta.json").read_text())
    assert meta["data_sha256"] == _expected_data_sha256(data)
    assert meta["model"] == str(model) and meta["model_type"] == "qwen2_vl" and meta["steps"] == 10
    assert meta["mc_spatial_vlm_version"] == version("mc-spatial-vlm") and meta["num_samples"] == 4
    assert meta["args"]["lr"] == 1e-2 and meta["args"]["freeze_vision"] is True
    assert meta["args"]["max_steps"] == 10 and meta["args"]["image_size"] == 28
    code, _, err = run("eval", "--model", out, "--data-json", root / "t2b_train_multi_small.json",
                       "--output-json", tmp_path / "e.json", "--max-new-tokens", "4", "--image-size", "28",
                       "--device", "cpu", "-q")
    assert code == 0, err


@pytest.mark.e2e
def test_sft_resume_continues_where_it_stopped(setup, tmp_path):
    from mc_spatial_vlm.sft import train_sft

    root, model = setup
    data = str(root / "t2b_train_multi_small.json")
    kw = dict(max_steps=6, batch_size=2, lr=1e-2, image_size=28, device="cpu", log_every=1, save_every=2)
    full = train_sft(model, data, str(tmp_path / "a"), echo=lambda m: None, **kw)["losses"]

    def stop_at_step_5(msg):
        if msg.startswith("step 5 "):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_sft(model, data, str(tmp_path / "b"), echo=stop_at_step_5, **kw)
    state_file = tmp_path / "b.resume" / "train_state.json"
    assert state_file.is_file() and not (tmp_path / "b").exists()
    # resuming on other data is refused (the saved state records the data hash)
    state = json.loads(state_file.read_text())
    assert state["data_sha256"] == _expected_data_sha256(root / "t2b_train_multi_small.json")
    state_file.write_text(json.dumps({**state, "data_sha256": "0" * 64}))
    with pytest.raises(BadInputError, match="not the data the interrupted run"):
        train_sft(model, data, str(tmp_path / "b"), resume=True, echo=lambda m: None, **kw)
    state_file.write_text(json.dumps(state))
    said = []
    resumed = train_sft(model, data, str(tmp_path / "b"), resume=True, echo=said.append, **kw)["losses"]
    assert any("resuming" in m and "step 4" in m for m in said)
    assert resumed == pytest.approx(full, rel=1e-4)
    assert not (tmp_path / "b.resume").exists() and (tmp_path / "b" / "model.safetensors").is_file()


@pytest.mark.e2e
def test_sft_live_log_grows_during_training_survives_interruption_and_ends_in_the_model_folder(setup, tmp_path):
    import re

    from mc_spatial_vlm.sft import train_sft

    root, model = setup
    data = str(root / "t2b_train_multi_small.json")
    kw = dict(max_steps=4, batch_size=2, lr=1e-2, image_size=28, device="cpu", log_every=1, save_every=2)
    out = tmp_path / "run"
    live = tmp_path / "run.train.log"
    seen = {}

    def stop_at_step_3(msg):
        if msg.startswith("step "):  # what `tail -f` would show at this moment
            seen[msg] = live.read_text()
        if msg.startswith("step 3 "):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_sft(model, data, str(out), echo=stop_at_step_3, **kw)
    step2 = seen[next(m for m in seen if m.startswith("step 2 "))].splitlines()
    assert "start model=" in step2[0] and "max_steps=4" in step2[0]
    assert [re.search(r" step (\d+)/4 ", line).group(1) for line in step2[1:]] == ["1", "2"]
    echoed = float(next(m for m in seen if m.startswith("step 2 ")).split()[-1])
    assert float(re.search(r"loss (\S+)", step2[2]).group(1)) == pytest.approx(echoed, abs=1e-4)
    text = live.read_text()
    assert "saved resume point at step 2" in text and text.splitlines()[-1].endswith("stopped at step 3: KeyboardInterrupt")
    assert not out.exists()

    train_sft(model, data, str(out), resume=True, echo=lambda m: None, **kw)
    assert not live.exists()
    lines = (out / "train.log").read_text().splitlines()
    assert lines[: len(text.splitlines())] == text.splitlines()  # appended to, not started over
    after = lines[len(text.splitlines()):]
    assert "resume from step 2" in after[0]
    assert [m.group(1) for m in map(re.compile(r" step (\d+)/4 ").search, after) if m] == ["3", "4"]
    assert re.search(r"done steps 4 last_loss \S+ -> ", after[-1])


def test_sft_resume_device_and_time_budget_behave_as_every_train_command(setup, tmp_path):
    """The flags of mc_core.options.training_options, with mc_core.training's behaviour."""
    from mc_spatial_vlm.sft import train_sft

    root, model = setup
    data = root / "t2b_train_multi_small.json"
    common = ["sft", "--model", model, "--data-json", data, "--image-size", "28", "--batch-size", "2", "-q"]
    code, _, err = run(*common, "--out-dir", tmp_path / "a", "--resume", "--device", "cpu")
    assert code == 2 and f"error: {tmp_path / 'a.resume'}: nothing to resume" in err and "Traceback" not in err
    import torch

    if not torch.cuda.is_available():
        code, _, err = run(*common, "--out-dir", tmp_path / "a", "--device", "cuda", "--max-steps", "1")
        assert code == 2 and "cuda" in err.lower() and not (tmp_path / "a").exists()
    code, _, err = run(*common, "--out-dir", tmp_path / "a", "--max-minutes", "nan")
    assert code == 2 and "not a finite number" in err
    # a time budget ends the run cleanly: a resume point and the model so far; --resume finishes it
    log = train_sft(str(model), str(data), str(tmp_path / "b"), max_steps=4, batch_size=2, image_size=28,
                    device="cpu", max_minutes=1e-6, echo=lambda m: None)
    assert log["stopped"] == "time-budget" and log["steps"] == 1
    assert (tmp_path / "b.resume" / "train_state.json").is_file() and (tmp_path / "b" / "model.safetensors").is_file()
    code, _, err = run(*common, "--out-dir", tmp_path / "b", "--max-steps", "4", "--device", "cpu")
    assert code == 2 and "an interrupted run is here: resume it (--resume)" in err
    log = train_sft(str(model), str(data), str(tmp_path / "b"), max_steps=4, batch_size=2, image_size=28,
                    device="cpu", resume=True, echo=lambda m: None)
    assert (log["stopped"], log["steps"], len(log["losses"])) == ("steps", 4, 4)
    assert not (tmp_path / "b.resume").exists()
    code, _, err = run(*common, "--out-dir", tmp_path / "b", "--max-steps", "4", "--device", "cpu")
    assert code == 2 and f"error: {tmp_path / 'b'}: already holds a run" in err
