"""Hook implementations of the `loci` plugin: lazy registrations only, nothing heavy imported."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_datasets(registry):
    registry.register("moving-shapes", "mc_loci.data.moving_shapes:MovingShapes",
                      "Synthetic videos of moving shapes with RGB, depth and instance masks (`mc loci make-data`)")


@hookimpl
def mc_register_models(registry):
    registry.register("slot-segmenter", "mc_loci.models.slot_segmenter:SlotSegmenter",
                      "Slot-Attention video segmenter with per-slot mask/RGB/depth and a background component")
    registry.register("loci-background", "mc_loci.models.background:BackgroundModule",
                      "Learned dynamic background: per-frame background RGB/depth under objects and a "
                      "foreground logit, pretrained without masks (`mc loci pretrain-bg`)")


@hookimpl
def mc_register_metrics(registry):
    registry.register("fg-ari", "mc_loci.metrics:fg_ari",
                      "Adjusted Rand index over true-foreground pixels (instance ids, 0 = background)")
    registry.register("matched-iou", "mc_loci.metrics:matched_iou",
                      "Mean IoU of true objects after Hungarian matching to predicted objects")


@hookimpl
def mc_register_commands(cli):
    from mc_loci.cli import group

    cli.add_command(group)
