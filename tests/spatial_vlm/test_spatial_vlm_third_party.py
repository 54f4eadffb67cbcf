"""Issue 13: a third-party plugin's predictor runs through the built-in `eval` and `zero-shot`
(registry as the factory); a registered model without the Predictor interface is refused."""

import json

import pytest

from mc_core.testing import invoke
from mc_spatial_vlm.metrics import SEED_METRIC_KEYS


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    from mc_spatial_vlm.build import build_tasks
    from mc_spatial_vlm.data.demo import make_demo_data

    root = tmp_path_factory.mktemp("third_party")
    make_demo_data(root / "x3", train_scenes=0, val_scenes=2, objects_per_scene=3, width=64, height=48, seed=2)
    build_tasks(root / "x3", root / "tasks", mode="allpairs", warn=None)
    return root / "tasks"


def test_example_predictor_runs_through_eval(example_plugin, tasks, tmp_path, seed_ref):
    from mc_example_plugin.vlm_predictor import ExamplePredictor

    r = invoke("spatial-vlm", "eval", "--help")
    assert r.exit_code == 0 and "example-vlm-predictor" in r.stdout  # choices come from the registry
    got = {}
    for name in ("t1_val_multi", "t2b_val_multi", "t2a_val_multi"):
        out = tmp_path / f"{name}.json"
        r = invoke("spatial-vlm", "eval", "--model", "example-vlm-predictor", "--data-json",
                   str(tasks / f"{name}.json"), "--output-json", str(out), "-q")
        assert r.exit_code == 0, r.stderr
        res = json.loads(out.read_text())
        samples = json.loads((tasks / f"{name}.json").read_text())
        # the answers are the plugin's own, sample by sample
        direct = ExamplePredictor()
        answers = {s["id"]: direct.predict(s["image"], s["conversations"][0]["value"], s) for s in samples}
        assert {x["id"]: x["pred_text"] for x in res["results"]} == answers
        # and the metrics are those the seed's rules give for these answers, computed here
        want, _ = seed_ref.ref_eval(samples, answers)
        assert {k: res["metrics"][k] for k in SEED_METRIC_KEYS} == want
        got[name] = res["metrics"]
    # a real predictor: it finds removed objects, finds most objects across views, and says
    # NOT_VISIBLE on some of the pairs where the object is gone
    assert got["t2b_val_multi"]["hit_at_mask"] > 0.8
    assert got["t1_val_multi"]["hit_at_mask"] > 0.3 and got["t1_val_multi"]["hit_at_mask_total"] > 10
    assert got["t2a_val_multi"]["not_visible_accuracy"] > 0.2


def test_zero_shot_with_the_example_predictor(example_plugin, tasks, tmp_path):
    r = invoke("spatial-vlm", "zero-shot", "--model", "example-vlm-predictor", "--out-dir", str(tmp_path / "zs"),
               "--tasks-dir", str(tasks), "-q")
    assert r.exit_code == 0, r.stderr
    rows = {row["task"]: row for row in json.loads((tmp_path / "zs" / "summary.json").read_text())}
    assert rows["t2b_val_multi"]["hit_at_mask"] > 0.8 and "hit_at_mask_strict" in rows["t2b_val_multi"]


def test_a_registered_model_without_predict_is_refused(tasks, tmp_path):
    import mc_core

    models = mc_core.registries().models
    models.register("svlm-test-no-predict", dict, "not a predictor", plugin="tests", task="spatial-vlm")
    try:
        r = invoke("spatial-vlm", "eval", "--model", "svlm-test-no-predict", "--data-json",
                   str(tasks / "t2b_val_multi.json"), "--output-json", str(tmp_path / "o.json"))
    finally:
        models.unregister("svlm-test-no-predict")
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "error: model 'svlm-test-no-predict' does not implement Predictor (missing: predict); "
        "see the plugin's README for the interface its commands need"]
    assert not (tmp_path / "o.json").exists()


def test_unknown_model_and_other_plugins_model_are_refused(tasks, tmp_path):
    r = invoke("spatial-vlm", "eval", "--model", "centre", "--data-json", str(tasks / "t2b_val_multi.json"),
               "--output-json", str(tmp_path / "o.json"))
    assert r.exit_code == 2 and "centre" in r.stderr and "center" in r.stderr and "Traceback" not in r.stderr
