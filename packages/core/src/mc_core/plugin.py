"""mc-core's own plugin: generic label-map metrics. Loaded through the `mc` entry point like
any third-party plugin."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_metrics(registry):
    registry.register("pixel-accuracy", "mc_core.metrics:pixel_accuracy",
                      "Fraction of pixels whose class matches the target")
    registry.register("mean-iou", "mc_core.metrics:mean_iou",
                      "Mean intersection-over-union over present classes")
    registry.register("dice", "mc_core.metrics:dice", "Mean Dice/F1 over present classes")
