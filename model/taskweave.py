"""TaskWeave (CVPR 2024): task-decoupled unit, inter-task feedback, uncertainty-weighted loss."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from model.bicmf import BiCMFLayer, TextToVideoLayer
from model.config import ModelConfig
from model.decoupled import ExpertKind, HighlightDecoder, TaskDecoupledUnit, build_expert
from model.feedback import highlightness_to_mask, moment_to_mask
from model.layers.decoder import AnchorDecoder
from model.layers.encoder import EncoderLayer
from model.layers.heads import MomentHeads
from model.layers.masked import masked_max_pool1d
from model.layers.position import LearnedPositionalEncoding, sine_positions
from model.layers.projection import InputProjection

Feedback = Literal["none", "moment", "highlight", "both"]


class TaskWeave(nn.Module):
    """Projection -> text-to-video fusion -> max-pool (Z) -> task-decoupled unit (X_mr, X_hd)
    -> MR anchor decoder and HD decoder with inter-task feedback (paper Sec. 3).

    Feedback (Table 7): "moment" (MgF, MR -> HD): J = X_hd + X_hd * M2M(predicted moments);
    "highlight" (HgF, HD -> MR): the MR decoder reads X_mr + X_mr * H2M(predicted saliency);
    "both" (Bi-MRHD): both at once, each from the other task's tentative (feedback-free)
    prediction; "none". Feedback is off while `epoch < feedback_start_epoch` (the paper starts
    it at half the training); calls without an epoch (inference) always use it.
    The learnable uncertainties gamma_mr = log delta_mr^2 and gamma_hd = log delta_hd^2 of the
    joint loss (Eq. 9) are parameters of the model, returned as outputs for the criterion.
    """

    def __init__(
        self,
        video_proj: InputProjection,
        text_proj: InputProjection,
        fusion: nn.ModuleList,
        decoupled: TaskDecoupledUnit,
        decoder: AnchorDecoder,
        highlight_decoder: HighlightDecoder,
        hidden_dim: int,
        pool_kernel: int,
        feedback: Feedback = "none",
        feedback_start_epoch: int = 0,
        text_pos: LearnedPositionalEncoding | None = None,
        negative_pairs: bool = True,
    ) -> None:
        super().__init__()
        self.video_proj, self.text_proj, self.text_pos = video_proj, text_proj, text_pos
        self.fusion, self.decoupled = fusion, decoupled
        self.decoder, self.highlight_decoder = decoder, highlight_decoder
        self.moment_heads = MomentHeads(hidden_dim)
        self.hidden_dim, self.pool_kernel = hidden_dim, pool_kernel
        self.feedback, self.feedback_start_epoch = feedback, feedback_start_epoch
        self.negative_pairs = negative_pairs
        # gamma = log delta^2, initialised to 0 (paper Sec. 4.2)
        self.log_var_mr = nn.Parameter(torch.zeros(()))
        self.log_var_hd = nn.Parameter(torch.zeros(()))

    def forward(
        self,
        src_vid: Tensor,
        src_vid_mask: Tensor,
        src_txt: Tensor,
        src_txt_mask: Tensor,
        negatives: bool = True,
        epoch: int | None = None,
    ) -> dict[str, Tensor | list[dict[str, Tensor]]]:
        """Predict moments and clip saliency for a batch of (video, query) pairs.

        Args:
            src_vid: float (B, L, Dv) clip features (as for VideoLights).
            src_vid_mask: float/bool (B, L), 1 = valid clip; padding after the valid clips.
            src_txt: float (B, N, Dt) token features.
            src_txt_mask: float/bool (B, N), 1 = valid token; padding after the valid tokens.
            negatives: run the negative-pair pass (only when B > 1 and the model has it).
            epoch: 0-based training epoch (gates the feedback); None = feedback on.

        Returns:
            dict with
              pred_logits: float (B, Q, 2), index 0 = foreground; pred_spans: float (B, Q, 2)
                  normalised (centre, width); aux_outputs: list (dec_layers - 1) of dicts with
                  the same keys for the earlier decoder layers;
              saliency_scores: float (B, L) HD decoder output Y_hd;
              saliency_scores_neg: float (B, L), clips under the next sample's query (roll by
                  one), without feedback; absent when B == 1 or negatives are off;
              feedback_mask_hd: float (B, L) xi_m2m (with MgF); feedback_mask_mr: float (B, L)
                  xi_h2m (with HgF);
              log_var_mr, log_var_hd: float () the learnable gamma_mr, gamma_hd;
              video_mask: bool (B, L); text_mask: bool (B, N).
            Saliency values at padded clips are undefined; use video_mask.
        """
        video_mask, text_mask = src_vid_mask.bool(), src_txt_mask.bool()
        video = self.video_proj(src_vid)  # (B, L, D)
        text = self.text_proj(src_txt)  # (B, N, D)
        video_pos = sine_positions(video_mask, self.hidden_dim)  # (B, L, D)
        text_pos = self.text_pos(text) if self.text_pos is not None else torch.zeros_like(text)
        x_mr, x_hd = self._task_features(video, text, video_mask, text_mask, video_pos, text_pos)
        out = self._decode(x_mr, x_hd, video_mask, video_pos, self.active_feedback(epoch))
        if negatives and self.negative_pairs and src_vid.shape[0] > 1:
            # sample i meets sample i+1's query: a mismatch the clips should not respond to
            text_neg, mask_neg, pos_neg = (t.roll(-1, dims=0) for t in (text, text_mask, text_pos))
            _, x_hd_neg = self._task_features(
                video, text_neg, video_mask, mask_neg, video_pos, pos_neg
            )
            out["saliency_scores_neg"] = self.highlight_decoder(x_hd_neg)
        out.update(log_var_mr=self.log_var_mr, log_var_hd=self.log_var_hd)
        out.update(video_mask=video_mask, text_mask=text_mask)
        return out

    def active_feedback(self, epoch: int | None) -> Feedback:
        """The feedback used at `epoch` ("none" before feedback_start_epoch)."""
        if epoch is not None and epoch < self.feedback_start_epoch:
            return "none"
        return self.feedback

    def _task_features(
        self,
        video: Tensor,
        text: Tensor,
        video_mask: Tensor,
        text_mask: Tensor,
        video_pos: Tensor,
        text_pos: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Fusion, max-pooling and the task-decoupled unit: (X_mr, X_hd), each (B, L, D)."""
        for layer in self.fusion:
            video = layer(video, text, video_mask, text_mask, video_pos, text_pos)
        # MaxPool1d(5, 1, 2) after cross-attention against attention's rank collapse
        joint = masked_max_pool1d(video, video_mask, self.pool_kernel)  # Z (B, L, D)
        return self.decoupled(joint, video_mask, video_pos)

    def _moments(self, memory: Tensor, video_mask: Tensor, video_pos: Tensor) -> dict:
        """MR decoder and heads on (B, L, D) memory."""
        hidden, references = self.decoder(memory, video_mask, video_pos)
        return self.moment_heads(hidden, references)

    def _decode(
        self, x_mr: Tensor, x_hd: Tensor, video_mask: Tensor, video_pos: Tensor, feedback: Feedback
    ) -> dict:
        """Both task decoders with the chosen feedback (Sec. 3.3, Fig. 3)."""
        hd_to_mr, mr_to_hd = feedback in ("highlight", "both"), feedback in ("moment", "both")
        saliency = self.highlight_decoder(x_hd)  # tentative when MgF follows
        # tentative when HgF follows; HgF alone needs no feedback-free MR pass
        moments = None if feedback == "highlight" else self._moments(x_mr, video_mask, video_pos)
        out = moments
        extras = {}
        if hd_to_mr:
            mask_mr = highlightness_to_mask(saliency, video_mask)  # xi_h2m (B, L)
            extras["feedback_mask_mr"] = mask_mr
            guided = x_mr + x_mr * mask_mr.unsqueeze(-1)  # (B, L, D)
            out = self._moments(guided, video_mask, video_pos)
        if mr_to_hd:
            mask_hd = moment_to_mask(moments["pred_spans"], video_mask)  # xi_m2m (B, L)
            extras["feedback_mask_hd"] = mask_hd
            saliency = self.highlight_decoder(x_hd + x_hd * mask_hd.unsqueeze(-1))
        out.update(extras, saliency_scores=saliency)
        return out


def build_taskweave(cfg: ModelConfig) -> TaskWeave:
    """TaskWeave from a ModelConfig (name "taskweave"); called through model.build.MODEL_REGISTRY.

    Reads: dims, heads, FFN, dropouts, projection(+_layers), fusion(+_layers) (the paper's
    2-layer cross-attention is "t2v"), enc_layers (shared-expert layers), dec_layers,
    num_queries, mr_expert, hd_expert, temporal_kernel, feedback, feedback_start_epoch,
    negative_pairs, max_query_tokens and text_positions.
    """
    d, heads, ffn, drop = cfg.hidden_dim, cfg.num_heads, cfg.ffn_dim, cfg.dropout
    fusion_cls = BiCMFLayer if cfg.fusion == "bicmf" else TextToVideoLayer

    def projection(in_dim: int) -> InputProjection:
        return InputProjection(in_dim, d, cfg.projection_layers, cfg.input_dropout, cfg.projection)

    def expert(kind: ExpertKind) -> nn.Module:
        return build_expert(kind, d, heads, ffn, drop, cfg.temporal_kernel)

    decoupled = TaskDecoupledUnit(
        d,
        shared=nn.ModuleList(EncoderLayer(d, heads, ffn, drop) for _ in range(cfg.enc_layers)),
        mr_expert=expert(cfg.mr_expert),
        hd_expert=expert(cfg.hd_expert),
        pool_kernel=cfg.temporal_kernel,
    )
    return TaskWeave(
        video_proj=projection(cfg.video_dim),
        text_proj=projection(cfg.text_dim),
        fusion=nn.ModuleList(fusion_cls(d, heads, ffn, drop) for _ in range(cfg.fusion_layers)),
        decoupled=decoupled,
        decoder=AnchorDecoder(d, heads, ffn, drop, cfg.dec_layers, cfg.num_queries),
        highlight_decoder=HighlightDecoder(d),
        hidden_dim=d,
        pool_kernel=cfg.temporal_kernel,
        feedback=cfg.feedback,
        feedback_start_epoch=cfg.feedback_start_epoch,
        text_pos=LearnedPositionalEncoding(cfg.max_query_tokens, d) if cfg.text_positions else None,
        negative_pairs=cfg.negative_pairs,
    )
