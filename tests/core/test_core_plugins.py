"""The plugin manager: registration through hooks, isolation of broken plugins, env switches."""

import types
import warnings

import pytest

from mc_core.errors import PluginError
from mc_core.hookspecs import hookimpl
from mc_core.plugins import PluginManager, PluginWarning


def make_plugin(name="demo", fail_in=None):
    mod = types.ModuleType(f"mc_test_plugin_{name}")

    @hookimpl
    def mc_register_models(registry):
        registry.register(f"{name}-model", "collections:OrderedDict", "a model")
        if fail_in == "models":
            raise ValueError("boom")

    @hookimpl
    def mc_register_metrics(registry):
        registry.register(f"{name}-metric", "collections:Counter", "a metric")

    mod.mc_register_models = mc_register_models
    mod.mc_register_metrics = mc_register_metrics
    return mod


def test_register_exercise_unregister():
    pm = PluginManager(strict=False, disabled=set())
    info = pm.register(make_plugin("demo"), "demo")
    assert info.ok and info.hooks == ["mc_register_metrics", "mc_register_models"]
    regs = pm.registries
    assert regs.models.names() == ["demo-model"]
    assert regs.models.entry("demo-model").plugin == "demo"
    assert regs.metrics.create("demo-metric", a=2) == {"a": 2}
    pm.unregister("demo")
    assert pm.registries.models.names() == []


def test_hook_that_raises_is_isolated_and_its_entries_dropped():
    pm = PluginManager(strict=False, disabled=set())
    pm.register(make_plugin("good"), "good")
    pm.register(make_plugin("bad", fail_in="models"), "bad")
    with pytest.warns(PluginWarning, match=r"plugin 'bad'.*mc_register_models raised ValueError: boom"):
        regs = pm.registries
    assert regs.models.names() == ["good-model"]  # the half-registered 'bad-model' is gone
    assert pm.infos["bad"].error.startswith("mc_register_models raised ValueError")
    assert regs.metrics.names() == ["good-metric"]  # a broken plugin's other hooks are skipped


def test_strict_mode_turns_failures_into_errors():
    pm = PluginManager(strict=True, disabled=set())
    pm.register(make_plugin("bad", fail_in="models"), "bad")
    with pytest.raises(PluginError, match="plugin 'bad'"):
        _ = pm.registries


def test_disabled_plugins_are_listed_but_not_loaded():
    pm = PluginManager(strict=False, disabled={"demo"})
    info = pm.register(make_plugin("demo"), "demo")
    assert info.disabled and not info.ok
    assert pm.registries.models.names() == []


def test_duplicate_entry_across_plugins_is_reported_naming_both():
    pm = PluginManager(strict=False, disabled=set())
    pm.register(make_plugin("same"), "first")
    pm.register(make_plugin("same"), "second")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        regs = pm.registries
    assert any("registered twice: by plugin 'first' and by plugin 'second'" in str(w.message) for w in caught)
    assert regs.models.entry("same-model").plugin == "first"


def test_bad_hook_signature_is_rejected_not_crashing():
    mod = types.ModuleType("mc_test_plugin_badsig")

    @hookimpl
    def mc_register_models(registry, unexpected_argument):
        pass

    mod.mc_register_models = mc_register_models
    pm = PluginManager(strict=False, disabled=set())
    with pytest.warns(PluginWarning, match="invalid plugin"):
        info = pm.register(mod, "badsig")
    assert info.error


def test_builtin_plugins_load_through_entry_points():
    pm = PluginManager(strict=True, disabled=set())
    pm.load_entry_points()
    assert {"core", "codec", "landcover", "loci", "pointflow", "spatial-vlm"} <= set(pm.infos)
    assert pm.infos["codec"].distribution == "mc-codec"
    assert "pixel-accuracy" in pm.registries.metrics
