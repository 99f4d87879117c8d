"""VideoLights: joint moment retrieval and highlight detection (FRA, Bi-CMF, Uni-JFM)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.fra import FeatureRefinement
from model.layers.decoder import AnchorDecoder
from model.layers.mlp import MLP
from model.layers.position import LearnedPositionalEncoding, sine_positions
from model.layers.projection import InputProjection
from model.spans import inverse_sigmoid
from model.unijfm import UniJFM


class VideoLights(nn.Module):
    """Projection -> FRA -> fusion -> encoder with a global token -> saliency and moment heads."""

    def __init__(
        self,
        video_proj: InputProjection,
        text_proj: InputProjection,
        fusion: nn.ModuleList,
        encoder: nn.ModuleList,
        decoder: AnchorDecoder,
        hidden_dim: int,
        refinement: FeatureRefinement | None = None,
        text_pos: LearnedPositionalEncoding | None = None,
        uni_jfm: UniJFM | None = None,
        align_dim: int = 64,
        negative_pairs: bool = True,
    ) -> None:
        super().__init__()
        self.video_proj, self.text_proj = video_proj, text_proj
        self.refinement, self.text_pos = refinement, text_pos
        self.fusion, self.encoder, self.decoder = fusion, encoder, decoder
        self.uni_jfm = uni_jfm
        self.hidden_dim = hidden_dim
        self.negative_pairs = negative_pairs
        self.global_token = nn.Parameter(torch.randn(hidden_dim))
        self.global_pos = nn.Parameter(torch.randn(hidden_dim))
        self.saliency_clip = nn.Linear(hidden_dim, hidden_dim)
        self.saliency_global = nn.Linear(hidden_dim, hidden_dim)
        self.class_head = nn.Linear(hidden_dim, 2)  # index 0 = foreground, 1 = background
        self.span_head = MLP(hidden_dim, hidden_dim, 2, 3)
        self.query_align = nn.Linear(hidden_dim, align_dim) if align_dim else None
        self.text_align = nn.Linear(hidden_dim, align_dim) if align_dim else None

    def forward(
        self,
        src_vid: Tensor,
        src_vid_mask: Tensor,
        src_txt: Tensor,
        src_txt_mask: Tensor,
        negatives: bool = True,
    ) -> dict[str, Tensor | list[dict[str, Tensor]]]:
        """Predict moments and clip saliency for a batch of (video, query) pairs.

        Args:
            src_vid: float (B, L, Dv) clip features, each encoder's rows L2-normalised, encoders
                concatenated (SlowFast, CLIP, BLIP-2), last 2 dims the temporal endpoints.
            src_vid_mask: float/bool (B, L), 1 = valid clip; padding after the valid clips.
            src_txt: float (B, N, Dt) token features (CLIP, BLIP-2), N <= max_query_tokens.
            src_txt_mask: float/bool (B, N), 1 = valid token; padding after the valid tokens.
            negatives: run the negative-pair pass (only when B > 1 and the model has it).

        Returns:
            dict with
              pred_logits: float (B, Q, 2) class logits, index 0 = foreground;
              pred_spans: float (B, Q, 2) normalised (centre, width) in [0, 1];
              aux_outputs: list (dec_layers - 1) of dicts with the same two keys (and
                  proj_queries) for the earlier decoder layers;
              saliency_scores: float (B, L) clip saliency;
              saliency_scores_neg: float (B, L), clips scored against the next sample's
                  query (roll by one); absent when B == 1 or negatives are off;
              saliency_scores_mr: float (B, L) Uni-JFM saliency; mr_clip_range: int64 (B, 2)
                  inclusive clips of the top-1 span (both only with Uni-JFM);
              proj_queries: float (B, Q, A) and proj_txt: float (B, N, A), L2-normalised
                  alignment projections (only when align_dim > 0);
              video_refined: float (B, L, D) clips after FRA; text_projected: float (B, N, D);
              video_mask: bool (B, L); text_mask: bool (B, N).
            Saliency values at padded clips are undefined; use video_mask.
        """
        video_mask, text_mask = src_vid_mask.bool(), src_txt_mask.bool()
        video = self.video_proj(src_vid)  # (B, L, D)
        text = self.text_proj(src_txt)  # (B, N, D)
        refined = video
        if self.refinement is not None:
            refined = self.refinement(video, text, video_mask, text_mask)
        video_pos = sine_positions(video_mask, self.hidden_dim)  # (B, L, D)
        memory, global_state = self._fuse_encode(refined, text, video_mask, text_mask, video_pos)

        out: dict = self._moments(memory, video_mask, video_pos)
        out["saliency_scores"] = self._saliency(memory, global_state)
        if negatives and self.negative_pairs and src_vid.shape[0] > 1:
            out["saliency_scores_neg"] = self._negative_saliency(
                refined, text, video_mask, text_mask, video_pos
            )
        if self.uni_jfm is not None:
            out["saliency_scores_mr"], out["mr_clip_range"] = self.uni_jfm(
                video, memory, video_mask, out["pred_logits"], out["pred_spans"]
            )
        if self.text_align is not None:
            out["proj_txt"] = F.normalize(self.text_align(text), dim=-1)
        out.update(video_refined=refined, text_projected=text)
        out.update(video_mask=video_mask, text_mask=text_mask)
        return out

    def _fuse_encode(
        self, video: Tensor, text: Tensor, video_mask: Tensor, text_mask: Tensor, video_pos: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Fuse the query into the clips and encode them with a global token in front.

        Returns memory (B, L, D) for the clips and the global token's state (B, D).
        """
        text_pos = self.text_pos(text) if self.text_pos is not None else torch.zeros_like(text)
        for layer in self.fusion:
            video = layer(video, text, video_mask, text_mask, video_pos, text_pos)
        batch = video.shape[0]
        token = self.global_token.expand(batch, 1, -1)  # (B, 1, D)
        tokens = torch.cat([token, video], dim=1)  # (B, 1 + L, D)
        pos = torch.cat([self.global_pos.expand(batch, 1, -1), video_pos], dim=1)
        padding = torch.cat([video_mask.new_zeros(batch, 1), ~video_mask], dim=1)  # (B, 1 + L)
        for layer in self.encoder:
            tokens = layer(tokens, pos, padding)
        return tokens[:, 1:], tokens[:, 0]

    def _negative_saliency(
        self, video: Tensor, text: Tensor, video_mask: Tensor, text_mask: Tensor, video_pos: Tensor
    ) -> Tensor:
        """Saliency (B, L) of each video under the next sample's query (roll by one).

        The clips keep the FRA refinement done with their own query (as in the release);
        only fusion and encoder are re-run with the mismatched query.
        """
        # sample i meets sample i+1's query: a mismatch the clips should not respond to
        text_neg, mask_neg = text.roll(-1, dims=0), text_mask.roll(-1, dims=0)
        memory, global_state = self._fuse_encode(video, text_neg, video_mask, mask_neg, video_pos)
        return self._saliency(memory, global_state)

    def _saliency(self, memory: Tensor, global_state: Tensor) -> Tensor:
        """sum_k (W1 v_i)_k (W2 g)_k / sqrt(d): (B, L)."""
        clip = self.saliency_clip(memory)  # (B, L, D)
        glob = self.saliency_global(global_state).unsqueeze(1)  # (B, 1, D)
        return (clip * glob).sum(-1) / math.sqrt(self.hidden_dim)

    def _moments(self, memory: Tensor, video_mask: Tensor, video_pos: Tensor) -> dict:
        """Decoder + heads: final-layer predictions and auxiliary ones for earlier layers."""
        # hidden (n, B, Q, D), references (n, B, Q, 2), n = decoder layers
        hidden, references = self.decoder(memory, video_mask, video_pos)
        logits = self.class_head(hidden)  # (n, B, Q, 2)
        spans = (self.span_head(hidden) + inverse_sigmoid(references)).sigmoid()  # (n, B, Q, 2)
        layers = [{"pred_logits": lg, "pred_spans": sp} for lg, sp in zip(logits, spans)]
        if self.query_align is not None:
            queries = F.normalize(self.query_align(hidden), dim=-1)  # (n, B, Q, A)
            for layer_out, proj in zip(layers, queries):
                layer_out["proj_queries"] = proj
        out = dict(layers[-1])
        out["aux_outputs"] = layers[:-1]
        return out
