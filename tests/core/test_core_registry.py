import sys

import pytest

from mc_core.errors import RegistryError
from mc_core.registry import Registry


def test_register_get_create_lazy_target():
    reg = Registry("model")
    reg.register("od", "collections:OrderedDict", "an ordered dict", plugin="p")
    entry = reg.entry("od")
    assert entry.summary == "an ordered dict" and entry.plugin == "p"
    assert entry._loaded is None  # nothing imported or resolved yet
    obj = reg.create("od", a=1)
    assert list(obj.items()) == [("a", 1)]
    assert reg.get("od") is entry._loaded


def test_listing_does_not_import_the_target():
    reg = Registry("dataset")
    reg.register("x", "mc_core_test_never_imported_module:thing", "lazy")
    assert reg.names() == ["x"]
    assert [e.name for e in reg.list()] == ["x"]
    assert "mc_core_test_never_imported_module" not in sys.modules


def test_unknown_name_suggests_close_matches():
    reg = Registry("model")
    reg.register("rle-lm", "collections:OrderedDict", plugin="codec")
    reg.register("msdzip", "collections:OrderedDict", plugin="codec")
    with pytest.raises(RegistryError, match=r"unknown model 'rle_lm'; did you mean 'rle-lm'\?"):
        reg.get("rle_lm")
    with pytest.raises(RegistryError, match="mc list models"):
        reg.get("zzzzzz")


def test_duplicate_name_names_both_plugins():
    reg = Registry("metric")
    reg.register("iou", "collections:OrderedDict", plugin="alpha")
    with pytest.raises(RegistryError, match="'iou' is registered twice: by plugin 'alpha' and by plugin 'beta'"):
        reg.register("iou", "collections:Counter", plugin="beta")


def test_names_filter_by_pattern_and_plugin():
    reg = Registry("model")
    for name, plugin in [("a-1", "x"), ("a-2", "y"), ("b-1", "x")]:
        reg.register(name, "collections:OrderedDict", plugin=plugin)
    assert reg.names("a-*") == ["a-1", "a-2"]
    assert reg.names(plugin="x") == ["a-1", "b-1"]
    assert "b-1" in reg and len(reg) == 3


def test_decorator_and_object_targets_take_summary_from_docstring():
    reg = Registry("metric")

    @reg("double")
    def double(x):
        """Twice the input.

        More text."""
        return 2 * x

    assert reg.entry("double").summary == "Twice the input."
    assert reg.create("double", x=4) == 8


def test_malformed_and_missing_targets_are_clear_errors():
    reg = Registry("model")
    reg.register("bad", "no_colon_here", plugin="p")
    reg.register("missing", "collections:NoSuchThing", plugin="p")
    with pytest.raises(RegistryError, match="malformed target"):
        reg.get("bad")
    with pytest.raises(RegistryError, match="has no attribute 'NoSuchThing'"):
        reg.get("missing")
