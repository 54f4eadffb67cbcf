"""Every registered entry of every installed plugin (and of the example plugin) resolves, and each
plugin's `--help` lists the same names as `mc list` for it."""

from __future__ import annotations

import re

import pytest

import mc_core
from mc_core.cli import REGISTRY_KINDS
from mc_core.testing import invoke

PLUGINS = ["codec", "landcover", "loci", "pointflow", "spatial-vlm"]


def test_every_registered_target_resolves(example_plugin):
    regs = mc_core.registries()
    broken = []
    for kind in REGISTRY_KINDS:
        for entry in regs.by_kind(kind).list():
            try:
                entry.load()
            except Exception as exc:  # noqa: BLE001 - report them all at once
                broken.append(f"{kind} {entry.name} ({entry.target_path}): {exc}")
    assert not broken, "\n".join(broken)


def _help_section(text: str, kind: str) -> set[str]:
    m = re.search(rf"Registered {kind}:\n((?:  .*\n?)+)", text)
    if not m:
        return set()
    return {line.split()[0] for line in m.group(1).splitlines() if line.startswith("  ") and
            not line.startswith("   ")}


@pytest.mark.parametrize("plugin", PLUGINS)
def test_plugin_help_and_mc_list_show_the_same_names(plugin, example_plugin):
    regs = mc_core.registries()
    helped = invoke(plugin, "--help")
    assert helped.exit_code == 0, helped.stderr
    for kind in REGISTRY_KINDS:
        registry = regs.by_kind(kind)
        expected = {e.name for e in registry.list() if e.plugin == plugin or e.task == plugin}
        assert _help_section(helped.stdout, kind) == expected, kind
        listed = invoke("list", kind, "--task", plugin)
        assert listed.exit_code == 0
        names = {line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()}
        assert names == set(registry.names(task=plugin))
