"""The architecture and loss fields every model config of the lineage shares, under the zoo
contract's names, with the release option each one comes from."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import Field, model_validator

from model.zoo.fidelity import ZooConfig

C = TypeVar("C", bound="DETRConfig")


class DETRConfig(ZooConfig):
    """Base of the lineage's configs: a DETR over [video; text] with matched span/label losses and
    a saliency loss. Defaults are the releases' QVHighlights values (every release shares them).

    A subclass adds `name` and its own fields, may redeclare a field to describe what it means
    there, and sets HIDDEN_DIM_MULTIPLE: 2 where only the clip sine encoding needs an even width,
    4 with the DAB decoder (hidden/2 anchor frequencies, themselves sin/cos pairs).
    """

    #: hidden_dim must be a multiple of this (sine encodings pair sin/cos channels).
    HIDDEN_DIM_MULTIPLE: ClassVar[int] = 2

    hidden_dim: int = Field(256, gt=0, description="Transformer width d (release --hidden_dim).")
    num_heads: int = Field(8, gt=0, description="Attention heads; must divide hidden_dim (release --nheads).")
    ffn_dim: int = Field(1024, gt=0, description="Feed-forward width of every layer (release --dim_feedforward).")
    dropout: float = Field(0.1, ge=0, lt=1, description="Transformer dropout (release --dropout).")
    input_dropout: float = Field(0.5, ge=0, lt=1, description="Input projection dropout (release --input_dropout).")
    input_proj_layers: int = Field(
        2, ge=1, le=3, description="LinearLayer blocks per input projection, ReLU on all but the last (--n_input_proj)."
    )
    enc_layers: int = Field(2, ge=1, description="Encoder layers (release --enc_layers).")
    dec_layers: int = Field(2, ge=1, description="Decoder layers (release --dec_layers).")
    num_queries: int = Field(10, ge=1, description="Moment queries (release --num_queries).")
    aux_loss: bool = Field(True, description="Return and supervise the intermediate decoder layers.")
    text_positions: int = Field(
        32, ge=1, description=(
            "Rows of the learned text position table txt_position_embed (release --max_q_l); the releases "
            "build it but never use it (use_txt_pos off), so it only sizes that parameter."
        ),
    )  # fmt: skip

    span_l1_weight: float = Field(10.0, ge=0, description="Weight of loss_span, L1 on centre/width (--span_loss_coef).")
    span_giou_weight: float = Field(1.0, ge=0, description="Weight of loss_giou, 1 - gIoU (--giou_loss_coef).")
    label_weight: float = Field(4.0, ge=0, description="Weight of loss_label, foreground CE (--label_loss_coef).")
    eos_coef: float = Field(0.1, ge=0, description="Cross-entropy weight of the background class (--eos_coef).")
    saliency_weight: float = Field(1.0, ge=0, description="Weight of loss_saliency (release --lw_saliency).")
    saliency_margin: float = Field(0.2, ge=0, description="Margin of the pairwise saliency hinge (--saliency_margin).")
    match_cost_span: float = Field(10.0, ge=0, description="Matcher weight of the L1 span cost (--set_cost_span).")
    match_cost_giou: float = Field(1.0, ge=0, description="Matcher weight of the -gIoU cost (--set_cost_giou).")
    match_cost_class: float = Field(
        4.0, ge=0, description="Matcher weight of the -p(foreground) cost (--set_cost_class)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> DETRConfig:
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim {self.hidden_dim} must be divisible by num_heads {self.num_heads}")
        if self.hidden_dim % self.HIDDEN_DIM_MULTIPLE:
            raise ValueError(
                f"hidden_dim {self.hidden_dim} must be a multiple of {self.HIDDEN_DIM_MULTIPLE} (sine embeddings)"
            )
        if self.match_cost_span == 0 and self.match_cost_giou == 0 and self.match_cost_class == 0:
            raise ValueError("match_cost_span, match_cost_giou and match_cost_class cannot all be 0")
        return self


def tiny_config(cls: type[C], video_dim: int, text_dim: int, **overrides: Any) -> C:
    """A small config of `cls` for fast tests: hidden 32, 4 heads, FFN 64, one encoder layer, two
    decoder layers (so aux outputs exist), 5 queries; `overrides` replace any of these."""
    sizes: dict[str, Any] = dict(
        hidden_dim=32, num_heads=4, ffn_dim=64, enc_layers=1, dec_layers=2, num_queries=5
    )  # fmt: skip
    return cls(video_dim=video_dim, text_dim=text_dim, **{**sizes, **overrides})
