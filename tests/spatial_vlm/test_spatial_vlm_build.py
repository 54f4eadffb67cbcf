"""make-demo-data, build, eval and zero-shot through the CLI on tiny synthetic data; bad input."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mc_core.testing import invoke


def run(*args):
    r = invoke("spatial-vlm", *args)
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from mc_spatial_vlm.build import build_tasks
    from mc_spatial_vlm.data.demo import make_demo_data

    root = tmp_path_factory.mktemp("x3")
    make_demo_data(root / "data", train_scenes=1, val_scenes=2, objects_per_scene=3, width=64, height=48, seed=1)
    counts = build_tasks(root / "data", root / "tasks", use_dilated_mask=True)
    return root, counts


def load(root, name):
    return json.loads((root / "tasks" / name).read_text())


def test_demo_layout_has_five_views_and_empty_masks(demo):
    root, _ = demo
    assert not (root / "data" / "val").exists()  # the x3 data set's folder names
    uids = sorted((root / "data" / "validation").glob("*/uid_*"))
    assert len(uids) == 6
    for u in uids:
        masks = sorted(u.glob("*_mask.png"))
        assert len(masks) == 5 and len(list(u.glob("*_mask_dialated.png"))) == 5
        sizes = [int((np.asarray(Image.open(m)) > 0).sum()) for m in masks]
        assert sum(s == 0 for s in sizes) >= 2  # hidden + out of frame
        assert any(s > 0 for s in sizes)
        for m in masks:  # the inpainted view differs from the original exactly where something was removed
            stem = m.name[: -len("_mask.png")]
            a = np.asarray(Image.open(u / f"{stem}_original.png")).astype(int)
            b = np.asarray(Image.open(u / f"{stem}_inpainted.png")).astype(int)
            mk = np.asarray(Image.open(m)) > 0
            big = np.abs(a - b).sum(-1) > 30
            assert not (big & ~mk).any()
            if mk.any():
                assert big[mk].mean() > 0.5


def test_build_outputs_follow_the_seed(demo):
    root, counts = demo
    for name in ("t1_val_multi.json", "t1_val_concat.json", "t2a_val_multi.json", "t2b_val_multi.json",
                 "t1_train_multi.json", "t1_train_concat.json"):
        assert (root / "tasks" / name).is_file(), name
    t1 = load(root, "t1_val_multi.json")
    assert len(t1) == counts["t1_val_multi.json"] == 6 * 4  # anchor view 01 with each of the 4 others
    for s in t1:
        assert set(s) == {"id", "task", "image", "query_original", "conversations"}  # the seed's keys
        assert s["id"].startswith("T1_MULTI_scenev") and "_uid" in s["id"] and "_A01" in s["id"]
        assert isinstance(s["image"], list) and len(s["image"]) == 2
        assert all(Path(p).is_absolute() and Path(p).is_file() for p in s["image"])
        assert s["image"][0].endswith("_marked.png") and "/marked_abs/validation/" in s["image"][0]
        assert s["query_original"] == s["image"][1] and s["image"][1].endswith("_original.png")
        conv = s["conversations"]
        assert [c["from"] for c in conv] == ["human", "gpt"] and "<image>" not in conv[0]["value"]
        mask = np.asarray(Image.open(s["query_original"].replace("_original.png", "_mask_dialated.png"))) > 0
        if conv[1]["value"] == "NOT_VISIBLE":
            assert not mask.any()
        else:
            x, y = (float(v) for v in conv[1]["value"].strip("[()]").split(","))
            h, w = mask.shape
            assert mask[min(int(y * h), h - 1), min(int(x * w), w - 1)]
    t2a = load(root, "t2a_val_multi.json")
    assert len(t2a) == sum(s["conversations"][1]["value"] == "NOT_VISIBLE" for s in t1) > 0
    assert all(s["conversations"][1]["value"] == "NOT_VISIBLE" and s["id"].startswith("T2A_MULTI_") for s in t2a)
    concat = load(root, "t1_val_concat.json")
    by_base = {s["id"][len("T1_MULTI_"):]: s for s in t1}
    assert 0 < len(concat) <= len(t1)  # only pairs whose anchor view shows the object
    for c in concat:
        s = by_base[c["id"][len("T1_CONCAT_"):]]
        assert isinstance(c["image"], str) and "/concat_abs/validation/" in c["image"]
        assert c["image"].endswith("_concat.jpg") and "_to_" in c["image"]
        assert c["query_original"] == s["query_original"]
        assert Image.open(c["image"]).size == (128, 48)
        assert c["conversations"][1]["value"] == s["conversations"][1]["value"]  # the seed: wrt the query image
    for s in load(root, "t2b_val_multi.json"):
        assert s["id"].startswith("T2B_MULTI_") and "_K0" in s["id"]
        assert s["image"][0].endswith("_original.png") and s["image"][1].endswith("_inpainted.png")
        assert s["query_original"] == s["image"][1]


def test_build_is_seeded_and_cli_works(demo, tmp_path):
    root, _ = demo
    code, _, err = run("build", "--data-root", root / "data", "--out-dir", tmp_path / "t", "--mode", "allpairs",
                       "--use-dilated-mask", "--emit-concat", "0", "-q")
    assert code == 0, err
    assert not (tmp_path / "t" / "t1_val_concat.json").exists()
    t_all = json.loads((tmp_path / "t" / "t1_val_multi.json").read_text())
    assert len(t_all) == 5 * len(load(root, "t1_val_multi.json"))  # every view is a reference
    run("build", "--data-root", root / "data", "--out-dir", tmp_path / "t2", "--mode", "all",
        "--use-dilated-mask", "--emit-concat", "0", "-q")
    assert (tmp_path / "t2" / "t1_val_multi.json").read_text().replace("/t2/", "/t/") == \
        (tmp_path / "t" / "t1_val_multi.json").read_text()


def test_eval_baselines_and_pixel_diff_target(demo, tmp_path):
    root, _ = demo
    out = tmp_path / "pd.json"
    code, stdout, err = run("eval", "--model", "pixel-diff", "--data-json", root / "tasks" / "t2b_val_multi.json",
                            "--output-json", out, "-q")
    assert code == 0, err
    res = json.loads(out.read_text())
    assert set(res) == {"metrics", "results"}
    assert res["metrics"]["hit_at_mask"] >= 0.9
    assert len(res["results"]) == res["metrics"]["total"]
    code, _, _ = run("eval", "--model", "not-visible", "--data-json", root / "tasks" / "t2a_val_multi.json",
                     "--output-json", out, "-q")
    assert json.loads(out.read_text())["metrics"]["not_visible_accuracy"] == 1.0
    code, _, _ = run("eval", "--model", "center", "--data-json", root / "tasks" / "t1_val_concat.json",
                     "--output-json", out, "-q")
    m = json.loads(out.read_text())
    assert m["metrics"]["not_visible_accuracy"] == 0.0
    # center answers (0.75, 0.5) in concat coordinates: its hits are exactly the query masks holding
    # pixel (round(0.5 * (W - 1)), round(0.5 * (H - 1)))
    expect = 0
    for r in m["results"]:
        if r["gt_visible"]:
            mk = np.asarray(Image.open(r["mask"])) > 0
            expect += bool(mk[round(0.5 * (mk.shape[0] - 1)), round(0.5 * (mk.shape[1] - 1))])
    assert m["metrics"]["hit_at_mask_count"] == expect > 0


def test_bad_sample_is_recorded_not_fatal(demo, tmp_path):
    root, _ = demo
    samples = load(root, "t2b_val_multi.json")[:3]
    samples[0] = dict(samples[0], image=[samples[0]["image"][0], str(tmp_path / "missing_inpainted.png")])
    samples[1] = dict(samples[1], conversations="oops")
    bad_mask_dir = tmp_path / "bm"
    bad_mask_dir.mkdir()
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(bad_mask_dir / "01_x_inpainted.png")
    Image.fromarray(np.full((10, 10), 255, np.uint8)).save(bad_mask_dir / "01_x_mask.png")
    samples.append(dict(samples[2], image=[samples[2]["image"][0], str(bad_mask_dir / "01_x_inpainted.png")],
                        query_original=str(bad_mask_dir / "01_x_inpainted.png")))
    samples.append(dict(samples[2], query_original=str(tmp_path / "nowhere_inpainted.png")))
    j = tmp_path / "bad.json"
    j.write_text(json.dumps(samples))
    out = tmp_path / "o.json"
    code, _, err = run("eval", "--model", "pixel-diff", "--data-json", j, "--output-json", out, "-q")
    assert code == 0, err
    assert "1 query masks differ in size from their query image" in err
    res = json.loads(out.read_text())
    errs = [r["error"] for r in res["results"]]
    assert "missing_inpainted.png" in errs[0] and "not found" in errs[0]
    assert res["results"][0]["pred_text"] == ""  # scored as the empty answer, as the seed does
    assert "conversations" in errs[1]
    assert errs[2] is None and res["results"][2]["hit"]
    # a mask of another size than its image: the seed maps the point in the mask's own size (all 255: a hit)
    assert errs[3] is None and res["results"][3]["hit_mask"] is True
    assert "no mask found" in res["results"][4]["mask_error"] and res["results"][4]["hit_mask"] is None
    m = res["metrics"]
    assert (m["total"], m["visible_gt"], m["hit_at_mask_total"], m["hit_at_mask_count"]) == (5, 5, 2, 2)
    assert m["hit_at_mask"] == 1.0 and m["hit_at_mask_strict"] == 2 / 5 and m["failed_samples"] == 2


def test_bad_input_errors(demo, tmp_path):
    root, _ = demo
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run("eval", "--model", "center", "--data-json", bad, "--output-json", tmp_path / "o.json")
    assert code == 2 and str(bad) in err and "malformed JSON" in err and "Traceback" not in err
    code, _, err = run("eval", "--model", "center", "--data-json", tmp_path, "--output-json", tmp_path / "o.json")
    assert code == 2 and f"{tmp_path}: is a folder" in err and "Traceback" not in err
    code, _, err = run("build", "--data-root", tmp_path / "nope", "--out-dir", tmp_path / "o")
    assert code == 2 and "data root not found" in err
    # a mask whose size differs from its image
    d = tmp_path / "x3" / "val" / "s" / "uid_1"
    d.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(d / "01_f_original.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(d / "01_f_inpainted.png")
    Image.fromarray(np.zeros((4, 8), np.uint8)).save(d / "01_f_mask.png")
    code, _, err = run("build", "--data-root", tmp_path / "x3", "--out-dir", tmp_path / "o")
    assert code == 2 and "01_f_mask.png" in err and "8x4" in err
    # missing original image: the view is skipped (as the seed does), said, and no sample at all is an error
    (d / "01_f_original.png").unlink()
    code, _, err = run("build", "--data-root", tmp_path / "x3", "--out-dir", tmp_path / "o")
    assert "view 01 has no *_original.png; skipped" in err
    assert code == 2 and f"{tmp_path / 'x3'}: no task samples" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "t1_val_multi.json").exists()
    # a model folder without a processor
    empty = tmp_path / "model"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    code, _, err = run("eval", "--model", empty, "--data-json", root / "tasks" / "t2b_val_multi.json",
                       "--output-json", tmp_path / "o.json", "--device", "cpu")
    assert code == 2 and str(empty) in err and "no processor" in err
    code, _, err = run("eval", "--model", "nonexistent-model", "--data-json",
                       root / "tasks" / "t2b_val_multi.json", "--output-json", tmp_path / "o.json")
    assert code == 2 and "nonexistent-model" in err


def test_zero_shot_builds_and_summarises(tmp_path):
    from mc_spatial_vlm.data.demo import make_demo_data

    make_demo_data(tmp_path / "d", train_scenes=0, val_scenes=1, objects_per_scene=2, width=48, height=40)
    code, out, err = run("zero-shot", "--model", "pixel-diff", "--out-dir", tmp_path / "zs",
                         "--data-root", tmp_path / "d", "-q")
    assert code == 0, err
    assert "t2b_val_multi" in out and "hit_at_mask" in out
    rows = json.loads((tmp_path / "zs" / "summary.json").read_text())
    assert [r["task"] for r in rows] == ["t1_val_multi", "t1_val_concat", "t2a_val_multi", "t2b_val_multi"]
    csv = (tmp_path / "zs" / "summary.csv").read_text().splitlines()
    assert csv[0].startswith("task,total,hit_at_mask,not_visible_accuracy,mean_l2_error,success_002")
    assert len(csv) == 5
    for name in ("t1_val_multi", "t2b_val_multi"):
        assert (tmp_path / "zs" / "eval" / f"{name}.json").is_file()
        with Image.open(tmp_path / "zs" / "eval" / f"{name}.png") as im:  # the picture of its samples
            assert im.format == "PNG" and im.width > 2 * 48


def test_eval_resumes_from_partial_results(demo, tmp_path):
    from mc_spatial_vlm.data.tasks import load_task_json
    from mc_spatial_vlm.evaluate import evaluate
    from mc_spatial_vlm.predictors import PixelDiffPredictor

    root, _ = demo
    samples = load_task_json(root / "tasks" / "t2b_val_multi.json")

    class Counting(PixelDiffPredictor):
        calls = 0

        def predict(self, images, prompt, sample):
            Counting.calls += 1
            if Counting.calls == 4:
                raise KeyboardInterrupt  # an interrupted run
            return super().predict(images, prompt, sample)

    partial = tmp_path / "o.json.partial.jsonl"
    with pytest.raises(KeyboardInterrupt):
        evaluate(Counting(), samples, resume_path=partial, run_key="k")
    with open(partial, "a") as f:
        f.write('{"index": 3, "resu')  # torn last line
    Counting.calls = 10
    res = evaluate(Counting(), samples, resume_path=partial, run_key="k")
    assert Counting.calls == 10 + len(samples) - 3  # the 3 finished samples were not run again
    full = evaluate(PixelDiffPredictor(), samples)
    assert res == full
    # another run key starts afresh
    Counting.calls = 100
    evaluate(Counting(), samples, resume_path=partial, run_key="other")
    assert Counting.calls == 100 + len(samples)


def test_sharded_build_then_merge_equals_plain_build(demo, tmp_path):
    root, _ = demo
    common = ["build", "--data-root", root / "data", "--use-dilated-mask", "-q"]
    for i in range(2):
        code, _, err = run(*common, "--out-dir", tmp_path / "s", "--num-shards", "2", "--shard-index", i)
        assert code == 0, err
    parts = sorted((tmp_path / "s" / "shards").glob("t1_val_multi.shard-*-of-002.json"))
    assert len(parts) == 2
    n_parts = sum(len(json.loads(p.read_text())) for p in parts)
    assert n_parts == len(load(root, "t1_val_multi.json"))
    images = {p: p.stat().st_mtime_ns for p in (tmp_path / "s").rglob("*_concat.jpg")}
    code, _, err = run(*common, "--out-dir", tmp_path / "s")
    assert code == 0, err
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "s").rglob("*_concat.jpg")} == images  # reused
    merged = (tmp_path / "s" / "t1_val_concat.json").read_text()
    assert merged.replace(str(tmp_path / "s"), "OUT") == \
        (root / "tasks" / "t1_val_concat.json").read_text().replace(str(root / "tasks"), "OUT")
    code, _, err = run(*common, "--out-dir", tmp_path / "s", "--num-shards", "2", "--shard-index", "2")
    assert code == 2 and "--shard-index" in err


def test_build_restart_keeps_images_only_when_the_same_settings_made_them(demo, tmp_path):
    root, _ = demo
    common = ["build", "--data-root", root / "data", "--out-dir", tmp_path / "t", "--emit-concat", "0", "-q"]
    assert run(*common, "--alpha", "0.45")[0] == 0
    marked = sorted((tmp_path / "t" / "marked_abs").rglob("*_marked.png"))
    first = {p: p.read_bytes() for p in marked}
    stamps = {p: p.stat().st_mtime_ns for p in marked}
    # a killed run's temporary beside an image (pid 2**22 + 1 is above any pid_max default: not alive)
    stale = marked[0].with_name(f".{marked[0].name}.mc-tmp-{2**22 + 1}-abc.png")
    stale.write_bytes(b"partial")
    assert run(*common, "--alpha", "0.45")[0] == 0
    assert {p: p.stat().st_mtime_ns for p in marked} == stamps  # same settings: kept
    assert run(*common, "--alpha", "0.9")[0] == 0
    changed = [p for p in marked if p.read_bytes() != first[p]]
    assert changed and not stale.exists()  # another alpha: the overlays were redrawn; the leftover removed
    with Image.open(changed[0]) as im:
        assert im.size == (64, 48)


def test_build_checks_every_mask_before_writing_anything(demo, tmp_path):
    import shutil

    root, _ = demo
    data = tmp_path / "data"
    shutil.copytree(root / "data", data)
    last = sorted((data / "validation").glob("*/uid_*/05_*_mask_dialated.png"))[-1]
    last.write_bytes(b"garbage")
    code, _, err = run("build", "--data-root", data, "--out-dir", tmp_path / "fresh")
    assert code == 2 and f"error: {last}: cannot read mask" in err
    assert not (tmp_path / "fresh").exists()  # not one image of the earlier instances
