"""Issue 17: bad input to every spatial-vlm command, as one table. Each case: exit 2, one line
`error: <file>: <problem>` (or click's usage line for a bad flag value), no traceback, and the
inputs and earlier outputs unchanged (checksums before and after)."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mc_core.testing import invoke


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from mc_spatial_vlm.build import build_tasks
    from mc_spatial_vlm.data.demo import make_demo_data

    root = tmp_path_factory.mktemp("bad_input")
    make_demo_data(root / "x3", train_scenes=1, val_scenes=1, objects_per_scene=2, width=32, height=24, seed=4)
    build_tasks(root / "x3", root / "tasks", warn=None)
    return root


@pytest.fixture
def w(base, tmp_path):
    """A fresh copy of the data, the tasks and an earlier eval output for each case."""
    shutil.copytree(base / "x3", tmp_path / "x3")
    shutil.copytree(base / "tasks", tmp_path / "tasks")
    t2b = tmp_path / "tasks" / "t2b_val_multi.json"
    r = invoke("spatial-vlm", "eval", "--model", "center", "--data-json", str(t2b), "--output-json",
               str(tmp_path / "earlier.json"), "-q")
    assert r.exit_code == 0, r.stderr
    samples = json.loads(t2b.read_text())
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"id": s["id"], "pred_text": "[(0.5, 0.5)]"}) + "\n"
                                              for s in samples))
    return tmp_path


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _eval(w, *extra, data="tasks/t2b_val_multi.json", out="o.json"):
    return ["eval", "--data-json", str(w / data), "--output-json", str(w / out), *extra]


def case_output_is_task_json(w):
    t = w / "tasks" / "t2b_val_multi.json"
    return ["eval", "--model", "center", "--data-json", str(t), "--output-json", str(t)], t, "this output is also an input"


def case_output_is_task_json_other_spelling(w):
    t = w / "tasks" / "t2b_val_multi.json"
    return (["eval", "--model", "center", "--data-json", str(t), "--output-json",
             str(w / "tasks" / ".." / "tasks" / "t2b_val_multi.json")], w / "tasks" / ".." / "tasks" / "t2b_val_multi.json",
            "this output is also an input")


def case_output_is_predictions(w):
    return _eval(w, "--predictions", str(w / "p.jsonl"), out="p.jsonl"), w / "p.jsonl", "this output is also an input"


def case_malformed_task_json(w):
    p = _write(w / "tasks" / "broken.json", "[{not json")
    return _eval(w, "--model", "center", data="tasks/broken.json"), p, "malformed JSON"


def case_task_json_not_a_list(w):
    p = _write(w / "tasks" / "obj.json", '{"samples": []}')
    return _eval(w, "--model", "center", data="tasks/obj.json"), p, "expected a JSON list of samples"


def case_task_json_missing(w):
    return _eval(w, "--model", "center", data="tasks/nope.json"), w / "tasks" / "nope.json", "task JSON not found"


def case_task_json_is_a_folder(w):
    return _eval(w, "--model", "center", data="tasks"), w / "tasks", "is a folder"


def case_predictions_malformed_line(w):
    p = _write(w / "bad.jsonl", '{"id": "a", "pred_text": "x"}\n{"id": \n')
    return _eval(w, "--predictions", str(p)), p, "line 2: malformed JSON"


def case_predictions_missing_key(w):
    p = _write(w / "bad.jsonl", '{"id": "a"}\n')
    return _eval(w, "--predictions", str(p)), p, "line 1: expected an object with 'id' and 'pred_text'"


def case_predictions_duplicate_id(w):
    p = _write(w / "bad.jsonl", '{"id": "a", "pred_text": "x"}\n{"id": "a", "pred_text": "y"}\n')
    return _eval(w, "--predictions", str(p)), p, "line 2: id 'a' appears twice"


def case_predictions_text_not_a_string(w):
    p = _write(w / "bad.jsonl", '{"id": "a", "pred_text": [0.5, 0.5]}\n')
    return _eval(w, "--predictions", str(p)), p, "'pred_text' must be a string, got list"


def case_predictions_missing_file(w):
    return _eval(w, "--predictions", str(w / "none.jsonl")), w / "none.jsonl", "predictions file not found"


def case_duplicate_sample_ids_with_predictions(w):
    t = w / "tasks" / "t2b_val_multi.json"
    samples = json.loads(t.read_text())
    p = _write(w / "tasks" / "dup.json", json.dumps([samples[0], samples[0]]))
    return _eval(w, "--predictions", str(w / "p.jsonl"), data="tasks/dup.json"), p, "sample ids are not unique"


def case_build_mask_size_differs(w):
    mask = sorted((w / "x3" / "validation").glob("*/uid_*/*_mask_dialated.png"))[0]
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(mask)
    return ["build", "--data-root", str(w / "x3"), "--out-dir", str(w / "tasks")], mask, "mask is 7x5 but its image"


def case_build_corrupt_mask(w):
    mask = sorted((w / "x3" / "train").glob("*/uid_*/*_mask_dialated.png"))[0]
    mask.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    return ["build", "--data-root", str(w / "x3"), "--out-dir", str(w / "tasks")], mask, "cannot read mask"


def case_build_corrupt_original(w):
    img = sorted((w / "x3" / "train").glob("*/uid_*/*_original.png"))[0]
    img.write_bytes(b"not a png")
    return ["build", "--data-root", str(w / "x3"), "--out-dir", str(w / "tasks")], img, "cannot read image"


def case_build_missing_root(w):
    return ["build", "--data-root", str(w / "nope"), "--out-dir", str(w / "tasks")], w / "nope", "data root not found"


def case_build_empty_root(w):
    (w / "empty").mkdir()
    return (["build", "--data-root", str(w / "empty"), "--out-dir", str(w / "tasks")], w / "empty",
            "no x3 instances under train/ or validation/")


def case_visualize_onto_eval_json(w):
    e = w / "earlier.json"
    return ["visualize", "--eval-json", str(e), "--out-png", str(e)], e, "this output is also an input"


def case_visualize_malformed_eval_json(w):
    p = _write(w / "e.json", "{")
    return ["visualize", "--eval-json", str(p), "--out-png", str(w / "v.png")], p, "malformed JSON"


USAGE = [  # bad flag values: click's usage error (exit 2), nothing written
    (["build", "--data-root", "X", "--out-dir", "Y", "--alpha", "nan"], "'nan' is not a finite number"),
    (["build", "--data-root", "X", "--out-dir", "Y", "--alpha", "inf"], "'inf' is not a finite number"),
    (["build", "--data-root", "X", "--out-dir", "Y", "--mode", "pairs"], "'pairs' is not one of"),
    (["eval", "--model", "pixel-diff", "--diff-threshold", "nan", "--data-json", "X", "--output-json", "Y"],
     "'nan' is not a finite number"),
    (["eval", "--data-json", "X", "--output-json", "Y"], "give either --model or --predictions"),
    (["sft", "--model", "M", "--data-json", "X", "--out-dir", "Y", "--lr", "inf"], "'inf' is not a finite number"),
    (["make-demo-data", "--out-root", "Y", "--width", "0"], "0 is not in the range"),
]

CASES = {name[len("case_"):]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}


def _checksums(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(case, w):
    args, path, problem = CASES[case](w)
    before = _checksums(w)
    r = invoke("spatial-vlm", *args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.strip().splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {path}: ") and problem in lines[0], lines[0]
    assert _checksums(w) == before  # inputs and earlier outputs unchanged, nothing new written
    assert not (w / "o.json").exists()


@pytest.mark.parametrize("args, problem", USAGE)
def test_bad_flag_values(args, problem, tmp_path):
    r = invoke("spatial-vlm", *[a.replace("Y", str(tmp_path / "Y")) if a == "Y" else a for a in args])
    assert r.exit_code == 2 and problem in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []
