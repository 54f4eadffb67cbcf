"""The `mc` command line, run as a user would (in a subprocess)."""

import json
import subprocess
import sys

import pytest

BUILTIN = ["codec", "landcover", "loci", "pointflow", "spatial-vlm"]
HEAVY = ("torch", "transformers", "rasterio")


def test_help_lists_the_five_plugins(mc):
    res = mc("--help")
    assert res.returncode == 0, res.stderr
    for name in BUILTIN + ["plugins", "list"]:
        assert f"\n  {name} " in res.stdout
    assert "Examples" in res.stdout


def test_version(mc):
    res = mc("--version")
    assert res.returncode == 0 and res.stdout.startswith("mc ")


def test_plugins_lists_builtins_with_distribution_and_status(mc):
    res = mc("plugins", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    for name in ["core"] + BUILTIN:
        assert rows[name]["status"] == "ok", rows[name]
        assert rows[name]["distribution"] == "mc-" + ("spatial-vlm" if name == "spatial-vlm" else name)
        assert "mc_register_commands" in rows[name]["hooks"] or name == "core"
    table = mc("plugins")
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:4] == [
        "NAME", "DISTRIBUTION", "VERSION", "STATUS"]


def test_list_metrics_and_plugin_filter(mc):
    res = mc("list", "metrics", "--plugin", "core")
    assert res.returncode == 0, res.stderr
    names = [line.split()[0] for line in res.stdout.splitlines()[1:]]
    assert names == ["dice", "mean-iou", "pixel-accuracy"]
    assert mc("list", "models").returncode == 0
    bad = mc("list", "models", "--plugin", "codek")
    assert bad.returncode == 2 and "did you mean 'codec'" in bad.stderr


def test_unknown_plugin_and_command_exit_2_with_suggestion(mc):
    res = mc("codek", "matrix")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: unknown plugin or command 'codek'; did you mean 'codec'? (see 'mc --help')"]
    assert "Traceback" not in res.stderr
    sub = mc("codec", "no-such-command")
    assert sub.returncode == 2 and len(sub.stderr.strip().splitlines()) == 1
    assert sub.stderr.startswith("error: unknown command 'no-such-command' for 'mc codec'")


def test_every_plugin_group_has_help(mc):
    for name in BUILTIN:
        res = mc(name, "--help")
        assert res.returncode == 0, (name, res.stderr)
        assert res.stdout.startswith(f"Usage: mc {name} ")


@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["list"]])
def test_fast_commands_import_no_heavy_library(args):
    code = (
        "import sys, json\n"
        "from mc_core.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == []


def test_disable_plugins_env(mc):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MC_")}
    env["MC_DISABLE_PLUGINS"] = "codec,loci"
    res = mc("plugins", "--json", env=env)
    rows = {r["name"]: r["status"] for r in json.loads(res.stdout)}
    assert rows["codec"] == rows["loci"] == "disabled" and rows["landcover"] == "ok"
    helped = mc("--help", env=env)
    assert "\n  codec " not in helped.stdout and "\n  landcover " in helped.stdout


def test_testing_invoke_reports_exit_codes_and_streams():
    from mc_core.testing import invoke

    ok = invoke("list", "metrics", "--plugin", "core")
    assert ok.exit_code == 0 and "pixel-accuracy" in ok.stdout and ok.stderr == ""
    bad = invoke("codek")
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.startswith("error: unknown plugin")


def test_eof_error_is_a_failure_not_an_abort(monkeypatch, capsys):
    """click turns any EOFError into Abort; mc reports it as a failed run (exit 1), not "aborted"."""
    import click

    from mc_core import cli

    def boom(*args, **kwargs):
        try:
            raise EOFError("Ran out of input")
        except EOFError as e:
            raise click.Abort() from e

    monkeypatch.setattr(cli.cli, "main", boom)
    monkeypatch.delenv("MC_DEBUG", raising=False)
    with pytest.raises(SystemExit) as e:
        cli.main(["list"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: EOFError: Ran out of input") and "aborted" not in err
