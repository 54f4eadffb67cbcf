"""The registries as the factory: create by name, rebuild from a checkpoint, interface checks,
run-time choices that include third-party entries."""

from __future__ import annotations

from typing import Protocol

import click
import pytest

import mc_core
from mc_core.errors import BadInputError, UsageError
from mc_core.factory import check_interface, create_model, load_model_and_checkpoint, missing_members
from mc_core.options import RegistryChoice
from mc_core.testing import invoke


class Predicts(Protocol):
    def fit(self, maps): ...

    def predict(self, maps): ...


class Scores(Protocol):
    num_classes: int

    def score(self, maps) -> float: ...


def test_create_model_by_name_checks_task_and_interface(example_plugin):
    model = create_model("example-majority", {}, task="example", protocol=Predicts)
    assert hasattr(model, "fit")
    with pytest.raises(UsageError, match="not one for `mc codec`"):
        create_model("example-majority", task="codec")
    with pytest.raises(UsageError, match=r"does not implement Scores \(missing: num_classes, score\)"):
        create_model("example-majority", protocol=Scores)
    with pytest.raises(UsageError, match="bad config"):
        create_model("example-majority", {"no_such_option": 1})
    with pytest.raises(UsageError, match="unknown model 'example-majorty'; did you mean 'example-majority'"):
        create_model("example-majorty")


def test_missing_members_sees_attributes_and_methods():
    class Half:
        num_classes = 3

    assert missing_members(Half(), Scores) == ["score"]
    assert check_interface(Half(), None, what="x") is not None


def test_registry_choice_offers_third_party_models(example_plugin):
    choice = RegistryChoice("models", task="codec")
    assert "example-counts-codec" in choice.choices and "rle-lm" in choice.choices
    assert "example-majority" not in choice.choices
    with pytest.raises(click.BadParameter, match="unknown model 'rle-lmm'; did you mean 'rle-lm'"):
        choice.convert("rle-lmm", None, None)
    res = invoke("list", "models", "--task", "codec")
    assert res.exit_code == 0 and "example-counts-codec" in res.stdout and "randar" not in res.stdout


def test_plugin_help_lists_models_other_plugins_registered_for_it(example_plugin):
    res = invoke("codec", "--help")
    assert res.exit_code == 0
    assert "example-counts-codec" in res.stdout and "(plugin example)" in res.stdout


def test_checkpoint_rebuilds_its_model_through_the_registry(tmp_path):
    torch = pytest.importorskip("torch")
    from mc_core.checkpoint import save_checkpoint
    from mc_core.factory import load_model

    class Tiny(torch.nn.Module):
        def __init__(self, width: int = 2):
            super().__init__()
            self.lin = torch.nn.Linear(width, 1)

        def predict(self, x):
            return self.lin(x)

        def fit(self, x):
            return self

    models = mc_core.registries().models
    models.register("test-tiny", Tiny, "a test model", plugin="tests", task="tests")
    try:
        torch.manual_seed(1)
        src = Tiny(width=3)
        save_checkpoint(tmp_path / "ck", src.state_dict(), model="test-tiny", config={"model": {"width": 3}})
        model, ck = load_model_and_checkpoint(tmp_path / "ck", task="tests", protocol=Predicts)
        assert ck.model == "test-tiny" and not model.training
        assert torch.equal(model.lin.weight, src.lin.weight)
        assert isinstance(load_model(tmp_path / "ck"), Tiny)
        with pytest.raises(BadInputError, match="not one for `mc codec`"):
            load_model(tmp_path / "ck", task="codec")
        save_checkpoint(tmp_path / "wrong", src.state_dict(), model="test-tiny", config={"model": {"width": 5}})
        with pytest.raises(BadInputError, match="weights do not fit model 'test-tiny'"):
            load_model(tmp_path / "wrong")
        save_checkpoint(tmp_path / "bad", src.state_dict(), model="test-tiny", config={"model": [1, 2]})
        with pytest.raises(BadInputError, match="'config.model' must be a mapping"):
            load_model(tmp_path / "bad")
    finally:
        models.unregister("test-tiny")
    with pytest.raises(BadInputError, match="unknown model 'test-tiny'.*plugin that registers it installed"):
        load_model(tmp_path / "ck")
