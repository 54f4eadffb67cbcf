"""Hook implementations of the `loci` plugin: lazy registrations only, nothing heavy imported."""

from mc_core.hookspecs import hookimpl


@hookimpl
def mc_register_datasets(registry):
    registry.register("moving-shapes", "mc_loci.data.moving_shapes:MovingShapes",
                      "Synthetic videos of moving shapes with RGB, depth and instance masks (`mc loci make-data`)")
    registry.register("loci-hdf5", "mc_loci.data.loci_hdf5:LociHDF5",
                      "Loci-Segmented's HDF5 data-set layout (JPEG frames, PNG depth, instance masks; the paper's "
                      "preprocessed MOVi files; `make-data --format loci-hdf5`)")


@hookimpl
def mc_register_models(registry):
    # every entry serves the loci commands (task "loci", the default for this plugin) and offers
    # mc_loci.interface.VideoSegmenter; trained models load from checkpoints, baselines build from
    # a config (see the README)
    registry.register("slot-segmenter", "mc_loci.models.slot_segmenter:SlotSegmenter",
                      "Slot-Attention video segmenter with per-slot mask/RGB/depth and a background component")
    registry.register("loci-s", "mc_loci.models.loci_segmented:LociSegmented",
                      "Loci-Segmented: Gestalt/position/priority slots, cascaded decoders, hyper-network encoder, "
                      "background module, predictor (trained by the stage commands / `mc loci pipeline`)")
    registry.register("loci-background", "mc_loci.models.background:BackgroundModule",
                      "Learned dynamic background: per-frame background RGB/depth under objects and a "
                      "foreground logit, pretrained without masks (`mc loci pretrain-bg`)")
    registry.register("all-background", "mc_loci.baselines:AllBackground",
                      "Baseline: every pixel background (no objects)")
    registry.register("median-cc", "mc_loci.baselines:MedianCC",
                      "Baseline: colour difference to the temporal median, connected components linked over time")
    registry.register("farthest-cc", "mc_loci.baselines:FarthestCC",
                      "Baseline: colour difference to the farthest-surface background (needs depth), components")
    registry.register("farthest-depth-cc", "mc_loci.baselines:FarthestDepthCC",
                      "Baseline: nearer than the farthest surface by more than 0.1 (depth only), components")
    registry.register("learned-cc", "mc_loci.baselines:LearnedCC",
                      "Baseline: components of a loci-background module's foreground map (needs bg_checkpoint)")


@hookimpl
def mc_register_metrics(registry):
    registry.register("fg-ari", "mc_loci.metrics:fg_ari",
                      "Adjusted Rand index over true-foreground pixels (instance ids, 0 = background)")
    registry.register("matched-iou", "mc_loci.metrics:matched_iou",
                      "Mean IoU of true objects after Hungarian matching to predicted objects")
    registry.register("loci-iou", "mc_loci.metrics:loci_iou",
                      "Loci-Segmented's IoU: per frame Hungarian matching (on intersection), matched IoUs of all "
                      "frames summed over the number of true objects of all frames (unmatched count 0)")
    registry.register("loci-fg-ari", "mc_loci.metrics:loci_fg_ari",
                      "Loci-Segmented's own foreground ARI: true-foreground pixels predicted as background stay "
                      "in the pair total")


@hookimpl
def mc_register_commands(cli):
    from mc_loci.cli import group

    cli.add_command(group)
