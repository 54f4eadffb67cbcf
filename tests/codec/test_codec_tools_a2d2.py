"""`mc codec prepare-a2d2` on a tiny fake A2D2 tree."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mc_codec.data.a2d2 import base_name, load_legend
from mc_codec.data.masks import find_masks, read_mask
from mc_core.testing import invoke

LEGEND = {"#ff0000": "Car 1", "#c80000": "Car 2", "#00ff00": "Road", "#0000ff": "Sky",
          "#ffff00": "Pedestrian 1", "#eeee00": "Pedestrian 2"}
COLOURS = np.array([[255, 0, 0], [200, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [238, 238, 0]],
                   np.uint8)


def run(argv):
    r = invoke(*argv)
    return r.exit_code, r.stderr


@pytest.fixture
def a2d2(tmp_path):
    root = tmp_path / "a2d2"
    (root / "camera_lidar_semantic").mkdir(parents=True)
    (root / "camera_lidar_semantic" / "class_list.json").write_text(json.dumps(LEGEND))
    rng = np.random.default_rng(0)
    truth = {}
    for seq in ["20180807_145028", "20181108_091945"]:
        for cam in ["cam_front_center", "cam_side_left"]:
            d = root / "camera_lidar_semantic" / seq / "label" / cam
            d.mkdir(parents=True)
            for i in range(2):
                ids = rng.integers(0, len(COLOURS), (6, 8))
                name = f"{seq.replace('_', '')}_label_{cam[4:].replace('_', '')}_{i:09d}.png"
                Image.fromarray(COLOURS[ids]).save(d / name)
                truth[(seq, cam, name)] = ids
    return root, truth


def test_legend_and_variants(tmp_path):
    assert base_name("Car 4") == "Car" and base_name("RD normal street") == "RD normal street"
    p = tmp_path / "l.json"
    p.write_text(json.dumps(LEGEND))
    sep = load_legend(p)
    assert sep.names == list(LEGEND.values())
    merged = load_legend(p, merge_variants=True)
    assert merged.names == ["Car", "Road", "Sky", "Pedestrian"]
    assert merged.colours[0] == ["#ff0000", "#c80000"]


def test_convert_separate_ids(a2d2, tmp_path):
    root, truth = a2d2
    out = tmp_path / "out"
    code, err = run(["codec", "prepare-a2d2", "--a2d2-root", str(root), "--out-root", str(out),
                     "--camera", "front_center", "--out-subdir", "warped_masks", "--quiet"])
    assert code == 0, err
    rel = find_masks(out, "warped_masks")
    assert len(rel) == 4 and all(r.split("/")[0].startswith("2018") for r in rel)
    for (seq, cam, name), ids in truth.items():
        if cam == "cam_front_center":
            got = read_mask(out / "warped_masks" / seq / name)
            assert got.dtype == np.uint8 and np.array_equal(got, ids)
    table = json.loads((out / "class_names.json").read_text())
    assert table["classes"]["0"]["name"] == "Car 1" and table["classes"]["5"]["name"] == "Pedestrian 2"


def test_convert_merged_and_resume(a2d2, tmp_path):
    root, truth = a2d2
    out = tmp_path / "out"
    args = ["codec", "prepare-a2d2", "--a2d2-root", str(root), "--out-root", str(out), "--merge-variants"]
    assert run(args + ["--num-shards", "2", "--shard-index", "0", "-q"])[0] == 0
    assert len(find_masks(out, "warped_masks")) == 2
    code, err = run(args)   # the rest; the first shard's files are kept
    assert code == 0 and "2 converted, 2 already present" in err
    merge = np.array([0, 0, 1, 2, 3, 3])
    for (seq, cam, name), ids in truth.items():
        if cam == "cam_front_center":
            assert np.array_equal(read_mask(out / "warped_masks" / seq / name), merge[ids])
    # a run with another id table into the same output is refused
    code, err = run(["codec", "prepare-a2d2", "--a2d2-root", str(root), "--out-root", str(out)])
    assert code == 2 and "class_names.json" in err and "different id table" in err


def test_unknown_colours(a2d2, tmp_path):
    root, _ = a2d2
    bad = root / "camera_lidar_semantic" / "20180807_145028" / "label" / "cam_front_center" / "zz_odd.png"
    img = np.zeros((4, 5, 3), np.uint8)
    img[...] = [0, 255, 0]
    img[0, :3] = [1, 2, 3]
    img[1, 0] = [9, 9, 9]
    Image.fromarray(img).save(bad)
    out = tmp_path / "out"
    code, err = run(["codec", "prepare-a2d2", "--a2d2-root", str(root), "--out-root", str(out), "-q"])
    assert code == 2
    assert "zz_odd.png" in err and "#010203 (3 px)" in err and "#090909 (1 px)" in err
    assert err.count("\n") == 1
    code, err = run(["codec", "prepare-a2d2", "--a2d2-root", str(root), "--out-root", str(out), "-q",
                     "--unknown-to-ignore", "--overwrite"])
    assert code == 0, err
    got = read_mask(out / "warped_masks" / "20180807_145028" / "zz_odd.png")
    assert got[0, 0] == 255 and got[1, 0] == 255 and got[2, 2] == 2
    code, err = run(["codec", "prepare-a2d2", "--a2d2-root", str(root), "--out-root", str(tmp_path / "o2"),
                     "--unknown-to-ignore", "--ignore-id", "3"])
    assert code == 2 and "collides" in err


def test_bad_input_errors(tmp_path):
    code, err = run(["codec", "prepare-a2d2", "--a2d2-root", str(tmp_path / "none"),
                     "--out-root", str(tmp_path / "o")])
    assert code == 2 and "class_list.json" in err
    root = tmp_path / "r"
    (root / "camera_lidar_semantic" / "s1" / "label" / "cam_front_center").mkdir(parents=True)
    (root / "class_list.json").write_text("{not json")
    code, err = run(["codec", "prepare-a2d2", "--a2d2-root", str(root), "--out-root", str(tmp_path / "o")])
    assert code == 2 and "class_list.json" in err
    (root / "class_list.json").write_text(json.dumps(LEGEND))
    code, err = run(["codec", "prepare-a2d2", "--a2d2-root", str(root), "--out-root", str(tmp_path / "o")])
    assert code == 2 and "no label PNGs" in err
    (root / "camera_lidar_semantic" / "s1" / "label" / "cam_front_center" / "x.png").write_bytes(b"\x89PNG broken")
    # through a real process: one line on stderr, exit 2, no traceback
    proc = subprocess.run([sys.executable, "-m", "mc_core", "codec", "prepare-a2d2", "--a2d2-root", str(root),
                           "--out-root", str(tmp_path / "o"), "-q"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1 and "x.png" in proc.stderr and "Traceback" not in proc.stderr
