"""Out-of-tree plugins from tests/plugins, discovered through their entry-point metadata."""

import json


def test_example_plugin_adds_dataset_model_metric_and_command(mc, plugin_env):
    env = plugin_env("mc-example-plugin")
    plugins = {r["name"]: r for r in json.loads(mc("plugins", "--json", env=env).stdout)}
    assert plugins["example"]["distribution"] == "mc-example-plugin"
    assert plugins["example"]["version"] == "0.3.1"
    assert plugins["example"]["status"] == "ok"
    for kind, name in [("datasets", "example-stripes"), ("models", "example-majority"),
                       ("metrics", "example-foreground")]:
        res = mc("list", kind, "--plugin", "example", env=env)
        assert res.returncode == 0 and name in res.stdout, res.stderr
    res = mc("example", "count", "6", env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "majority class 0, accuracy 0.500"
    assert "\n  example " in mc("--help", env=env).stdout


def test_example_plugin_entries_work_through_the_registries(plugin_env, monkeypatch, tmp_path):
    import sys

    from mc_core.plugins import PluginManager

    env = plugin_env("mc-example-plugin")
    for p in reversed(env["PYTHONPATH"].split(":")):
        monkeypatch.syspath_prepend(p)
    pm = PluginManager(strict=True, disabled=set())
    pm.load_entry_points()
    regs = pm.registries
    maps = regs.datasets.create("example-stripes", n=2, size=4, classes=2)
    model = regs.models.create("example-majority").fit(maps)
    assert regs.metrics.get("example-foreground")(model.predict(maps)) == 0.0
    sys.modules.pop("mc_example_plugin", None)


def test_broken_plugins_are_isolated(mc, plugin_env):
    env = plugin_env("mc-example-plugin", "mc-broken-plugin")
    res = mc("plugins", "--json", env=env)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["broken-import"]["status"] == "error"
    assert "ModuleNotFoundError" in rows["broken-import"]["error"]
    assert "warning: plugin 'broken-import'" in res.stderr
    # the working plugins still work, and the command of the hook-raising plugin is absent
    run = mc("example", "count", "2", env=env)
    assert run.returncode == 0, run.stderr
    assert "warning: plugin 'broken-hook'" in run.stderr and "command registration exploded" in run.stderr
    models = mc("list", "models", env=env)
    assert "example-majority" in models.stdout and "half-registered" not in models.stdout
    rows = {r["name"]: r for r in json.loads(mc("plugins", "--json", env=env).stdout)}
    assert rows["broken-hook"]["status"] == "error"
    table = mc("plugins", env=env).stdout
    assert "broken-import: failed to import mc_broken_plugin.import_fails" in table


def test_strict_mode_fails_on_broken_plugin(mc, plugin_env):
    env = plugin_env("mc-broken-plugin", MC_STRICT_PLUGINS="1")
    res = mc("plugins", env=env)
    assert res.returncode == 1
    assert res.stderr.startswith("error: plugin 'broken-import'") and "Traceback" not in res.stderr


def test_plugin_help_lists_its_registered_entries(mc, plugin_env):
    res = mc("example", "--help", env=plugin_env("mc-example-plugin"))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Registered datasets:" in out and "example-stripes" in out
    assert "Registered models:" in out and "example-majority" in out
    assert "Registered metrics:" in out and "example-foreground" in out
    assert "count" in out
