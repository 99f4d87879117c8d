"""Pieces shared by the zoo's models of the Moment-DETR / QD-DETR lineage.

Every piece here is the release's function exactly (the golden-fixture tests of moment_detr,
qd_detr and taskweave run through it); parameter names are the releases', so a model built from
these pieces keeps the release's state-dict keys.

Modules:
    position: PositionEmbeddingSine / sine_position_encoding (clip positions),
        TrainablePositionalEncoding (the releases' built-but-unused txt_position_embed) and
        gen_sineembed_for_position (DAB anchor embedding, hidden/2 frequencies per coordinate).
    projection: LinearLayer, input_projection, MLP.
    attention: ProjectionFreeAttention (the conditional/DAB decoder's attention).
    encoder: FFNLayer, EncoderLayer (post-norm self-attention), T2VEncoderLayer (text-to-video
        cross-attention, with QD-DETR's two correction switches), Encoder / T2VEncoder stacks,
        clones, xavier_init.
    decoder: DABDecoderLayer and DABDecoder (anchor refinement, width-modulated attention).
    heads: aux_outputs, anchor_spans.
    matcher: HungarianMatcher.
    losses: span_losses, label_losses (class_error), saliency_hinge, rank_contrastive,
        negative_pair, query_dependent_saliency_loss.
    criterion: SetCriterion (matching, aux layers, weight_dict, "total").
    config: DETRConfig (the architecture / loss fields every model config shares), tiny_config.
    checkpoint: option checks, option -> field mapping, unused-key split, recognises helpers.
    presets: the lineage's training-script values and a ScriptPreset builder.
"""
