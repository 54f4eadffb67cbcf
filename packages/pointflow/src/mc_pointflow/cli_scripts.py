"""`mc pointflow script`: the scripts shipped in place of the seed's (bash/preprocess_masks.sh)."""

from __future__ import annotations

import click

from mc_pointflow.scripts import SCRIPTS


@click.command("script")
@click.argument("name", type=click.Choice(SCRIPTS))
@click.option("--copy-to", type=click.Path(file_okay=False), default=None,
              help="Copy the script into this folder (e.g. bash, where the seed keeps it).")
@click.option("--overwrite", is_flag=True, help="With --copy-to: replace a different file of that name.")
@click.option("--show", is_flag=True, help="Print the script instead of its path.")
def script_cmd(name, copy_to, overwrite, show):
    """Print the path of a shipped script (or its text, or copy it).

    preprocess_masks.sh is the seed's bash/preprocess_masks.sh: preprocess-masks with the seed's
    settings for unplug_charger (TASK, DATA_ROOT, SPLIT, OBJECT_IDS, DISTANCE_THRESHOLD,
    GRIPPER_RADIUS, N_POINTS and MC come from the environment; extra arguments are passed on).

    \b
    Example:
      mc pointflow script preprocess_masks.sh --copy-to bash && bash bash/preprocess_masks.sh
      bash "$(mc pointflow script preprocess_masks.sh)" --overwrite
      mc pointflow script preprocess_masks.sh --show
    """
    from mc_pointflow.scripts import copy_script, script_path, script_text

    if show:
        click.echo(script_text(name), nl=False)
    elif copy_to:
        click.echo(str(copy_script(name, copy_to, overwrite=overwrite)))
    else:
        click.echo(str(script_path(name)))


COMMANDS = [script_cmd]
