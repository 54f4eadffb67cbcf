"""Hook implementations of the `codec` plugin: lazy registrations only, nothing heavy imported."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_datasets(registry):
    registry.register("mask-folder", "mc_codec.rows:MaskSource",
                      "Row-RLE tokens of class-id mask PNGs in a folder, derived lazily per image")
    registry.register("row-cache", "mc_codec.cache:CacheSource",
                      "Row-RLE tokens read lazily from a cache made by `mc codec cache`")


@hookimpl
def mc_register_models(registry):
    registry.register("rle-lm", "mc_codec.models.rle_lm:RleLM",
                      "Causal GRU over a row's run tokens, optional 2D context (default codec model)")
    registry.register("msdzip", "mc_codec.models.msdzip:MSDZip",
                      "MSDZip-style fixed-context MLP predictor of the next run token")


@hookimpl
def mc_register_metrics(registry):
    registry.register("bits-per-pixel", "mc_codec.metrics:bits_per_pixel",
                      "Learned codec's actual coded size of a mask in bits per pixel")


@hookimpl
def mc_register_commands(cli):
    from mc_codec.cli import group

    cli.add_command(group)
