"""The registry is the factory of the loci commands: `--method` choices are read from it at run
time, a third-party model registered for task "loci" runs through `mc loci eval` and `segment`
(as a baseline built from a config, and as a trained model from its checkpoint), and a model
that does not implement VideoSegmenter is refused with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mc_core.testing import invoke


class BrightSegmenter:
    """A third party's segmenter: one object, the pixels brighter than `level` (per video)."""

    requires_checkpoint = False
    needs_depth = False

    def __init__(self, level: float = 200.0):
        self.level = float(level)

    def segment(self, video):
        return (np.asarray(video["rgb"]).max(-1) > self.level).astype(np.int64)


class CheckpointedBright(BrightSegmenter):
    """The same, as a trained model: rebuilt from an mc checkpoint (its level in config["model"])."""

    requires_checkpoint = True

    @classmethod
    def from_checkpoint(cls, ck):
        return cls(**ck.config["model"])


class NoSegment:
    requires_checkpoint = False
    needs_depth = False


@pytest.fixture
def third_party():
    from mc_core import registries

    models = registries().models
    names = {"acme-bright": BrightSegmenter, "acme-bright-trained": CheckpointedBright, "acme-broken": NoSegment}
    for name, target in names.items():
        models.register(name, target, f"{name} (test)", plugin="acme", task="loci")
    yield names
    for name in names:
        models.unregister(name)


def test_method_choices_are_the_registry_entries_for_loci(third_party):
    from mc_core import registries
    from mc_loci import method_names

    names = registries().models.names(task="loci")
    assert {"slot-segmenter", "loci-background", "median-cc", "farthest-cc", "farthest-depth-cc", "learned-cc",
            "all-background", "acme-bright"} <= set(names)
    assert method_names() == ["model", *names]
    for cmd in ("eval", "segment"):
        out = invoke("loci", cmd, "--help").stdout
        assert "acme-bright" in out.replace("\n", "") and "median-cc" in out
    listed = invoke("list", "models", "--task", "loci").stdout
    assert all(n in listed for n in names)
    # and in the plugin's own help, with who registered it
    assert "acme-bright (test) (plugin acme)" in invoke("loci", "--help").stdout.replace("\n", " ")


def test_a_third_party_segmenter_runs_through_eval_and_segment(third_party, tmp_path):
    from mc_core.checkpoint import save_checkpoint
    from mc_loci.data.moving_shapes import make_dataset

    data = make_dataset(tmp_path / "d", videos=2, frames=3, size=16, progress_bar=False)
    res = invoke("loci", "eval", "--data", data, "--method", "acme-bright", "-q")
    assert res.exit_code == 0, res.stderr
    by_name = json.loads(res.stdout)
    assert by_name["method"] == "acme-bright" and 0 < by_name["matched_iou"] <= 1  # bright objects found
    base = json.loads(invoke("loci", "eval", "--data", data, "--method", "all-background", "-q").stdout)
    assert by_name["matched_iou"] > base["matched_iou"] == 0.0

    # a trained model of the third party, from its checkpoint (the checkpoint names the entry)
    ck = save_checkpoint(tmp_path / "ck", {}, model="acme-bright-trained", config={"model": {"level": 200.0}})
    res = invoke("loci", "eval", "--data", data, "--checkpoint", ck, "-q")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["matched_iou"] == by_name["matched_iou"]
    res = invoke("loci", "eval", "--data", data, "--method", "acme-bright-trained", "-q")
    assert res.exit_code == 2 and "needs a checkpoint" in res.stderr
    res = invoke("loci", "segment", "--checkpoint", ck, "--video", data / "videos" / "video_00000.npz",
                 "--out-gif", tmp_path / "s.gif", "--out-npz", tmp_path / "s.npz")
    assert res.exit_code == 0, res.stderr
    want = BrightSegmenter().segment({"rgb": np.load(data / "videos" / "video_00000.npz")["rgb"]})
    np.testing.assert_array_equal(np.load(tmp_path / "s.npz")["ids"], want)


def test_a_model_without_the_interface_is_refused_in_one_line(third_party, tmp_path):
    from mc_loci.data.moving_shapes import make_dataset

    data = make_dataset(tmp_path / "d", videos=1, frames=2, size=16, progress_bar=False)
    res = invoke("loci", "eval", "--data", data, "--method", "acme-broken", "-q")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "does not implement VideoSegmenter (missing: segment)" in res.stderr


def test_loading_our_checkpoints_goes_through_the_factory(tmp_path):
    import torch

    from mc_core.factory import create_model, load_model
    from mc_loci import VideoSegmenter, get_segmenter
    from mc_loci.data.moving_shapes import make_video

    torch.manual_seed(0)
    model = create_model("slot-segmenter", {"num_slots": 2, "hidden": 4, "slot_dim": 4, "pixel_dim": 4},
                         task="loci", protocol=VideoSegmenter)
    from mc_core.checkpoint import save_checkpoint

    ck = save_checkpoint(tmp_path / "ck", model.state_dict(), model="slot-segmenter",
                         config={"model": model.config.to_dict()})
    loaded = load_model(ck, task="loci", protocol=VideoSegmenter)
    video = make_video(0, 0, frames=2, size=16)
    np.testing.assert_array_equal(loaded.segment(video), model.segment(video))
    np.testing.assert_array_equal(get_segmenter("slot-segmenter", checkpoint=ck, device="cpu").segment(video),
                                  model.segment(video))
    assert isinstance(get_segmenter("median-cc"), VideoSegmenter)
    with pytest.raises(Exception, match="is a baseline"):
        get_segmenter("median-cc", checkpoint=ck)


def test_set_overrides_a_baselines_config_checked_against_its_defaults(tmp_path):
    from mc_loci.data.moving_shapes import make_dataset
    from mc_loci.segmenters import baseline_defaults

    assert baseline_defaults("median-cc") == {"threshold": 30.0, "min_area": 6}
    data = make_dataset(tmp_path / "d", videos=2, frames=4, size=32, progress_bar=False)
    default = json.loads(invoke("loci", "eval", "--data", data, "--method", "median-cc", "-q").stdout)
    assert default["matched_iou"] > 0.2
    res = invoke("loci", "eval", "--data", data, "--method", "median-cc", "--set", "threshold=255", "-q",
                 "--out-json", tmp_path / "r.json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["matched_iou"] == 0.0  # no colour differs by more than 255: no objects
    assert json.loads((tmp_path / "r.json").read_text())["overrides"] == ["threshold=255"]


def test_loci_segmented_metrics_and_hdf5_dataset_are_registered():
    from mc_core import registries
    from mc_loci import LociHDF5, loci_fg_ari, loci_iou

    metrics = registries().metrics
    assert {"fg-ari", "matched-iou", "loci-iou", "loci-fg-ari"} <= set(metrics.names(task="loci"))
    assert metrics.get("loci-iou") is loci_iou and metrics.get("loci-fg-ari") is loci_fg_ari
    assert registries().datasets.get("loci-hdf5") is LociHDF5
    listed = invoke("list", "metrics").stdout
    assert "loci-iou" in listed and "loci-fg-ari" in listed
