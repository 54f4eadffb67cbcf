"""Hooks of the example plugin: datasets, models (one generic, and one for each of the codec,
landcover and spatial-vlm commands), one metric and one command."""

import click

from mc_core.cli import plugin_group
from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_datasets(registry):
    registry.register("example-stripes", "mc_example_plugin.core:stripes", "Striped label maps")


@hookimpl
def mc_register_models(registry):
    registry.register("example-majority", "mc_example_plugin.core:MajorityModel",
                      "Predicts the most frequent class seen in training")
    # Models for the built-in commands: `task` names the plugin whose commands they serve, and
    # each implements that plugin's documented model interface (a typed Protocol).
    registry.register("example-counts-codec", "mc_example_plugin.codec_model:CountCodecModel",
                      "Count-based context model for `mc codec` (train, compress, matrix)", task="codec")
    registry.register("example-counts-landcover", "mc_example_plugin.landcover_model:CountLandcoverModel",
                      "Count-based neighbour model for `mc landcover` (eval-perplexity, sampling)",
                      task="landcover")
    registry.register("example-vlm-predictor", "mc_example_plugin.vlm_predictor:ExamplePredictor",
                      "Rule-based answerer for `mc spatial-vlm eval`", task="spatial-vlm")


@hookimpl
def mc_register_metrics(registry):
    registry.register("example-foreground", "mc_example_plugin.core:foreground_fraction",
                      "Fraction of pixels that are not class 0")


group = plugin_group("example", help="The example plugin from the README.")


@group.command("count")
@click.argument("n", type=click.IntRange(min=1))
@click.option("--classes", type=click.IntRange(min=1), default=3, show_default=True)
def count(n: int, classes: int) -> None:
    """Make N striped maps and print the majority model's accuracy on them.

    \b
    Example:
      mc example count 4
    """
    from mc_example_plugin.core import MajorityModel, stripes

    maps = stripes(n=n, classes=classes)
    model = MajorityModel().fit(maps)
    acc = float((model.predict(maps) == maps).mean())
    click.echo(f"majority class {model.majority}, accuracy {acc:.3f}")


@hookimpl
def mc_register_commands(cli):
    cli.add_command(group)
