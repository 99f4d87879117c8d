"""The field's models, each the same function as its authors' release (fidelity "release"), with
our named corrections available per model (fidelity "corrected").

One sub-package per model (videolights, trdetr, taskweave, moment_detr, qd_detr, cg_detr), each
exporting `FAMILY` (model.zoo.family.Family): its config class, builder, release-checkpoint
conversion and the table of differences between "release" and "corrected". `model.zoo.common`
holds the layers, matcher, losses, config fields and convert/preset helpers the lineage shares.
"""
