"""TR-DETR (AAAI 2024): task-reciprocal transformer with VFR, HD2MR and MR2HD."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.bicmf import BiCMFLayer, TextToVideoLayer
from model.config import ModelConfig
from model.layers.decoder import AnchorDecoder
from model.layers.encoder import EncoderLayer
from model.layers.heads import MomentHeads
from model.layers.masked import masked_softmax
from model.layers.position import LearnedPositionalEncoding, sine_positions
from model.layers.projection import InputProjection
from model.unijfm import encode_span, top1_clip_range
from model.vfr import VisualFeatureRefinement


class TRDETR(nn.Module):
    """Projection -> VFR -> text-to-video fusion (Z) -> HD2MR (H, Z^) -> decoder -> MR2HD.

    HD2MR (Eqs. 12-13): H = Linear(MHA(Z)); Z^ = MHA(Z + Softmax(H) * Z), the two MHA being
    one shared stack of encoder layers (Fig. 1). MR2HD (Eqs. 14-16): a GRU reads the
    projected clips of the top-1 predicted moment; S_ref = cos(F_v^M, F^_v);
    H- = Linear(Z^ + Softmax(S_ref) * Z^). The same Linear(d, 1) scores H and H- (the release
    shares its saliency projection between them); H- is the model's saliency.
    The local/global regulators (Eqs. 3-5) live in the criterion and read the projected
    features returned here.
    """

    def __init__(
        self,
        video_proj: InputProjection,
        text_proj: InputProjection,
        refinement: VisualFeatureRefinement,
        fusion: nn.ModuleList,
        encoder: nn.ModuleList,
        decoder: AnchorDecoder,
        hidden_dim: int,
        text_pos: LearnedPositionalEncoding | None = None,
    ) -> None:
        super().__init__()
        self.video_proj, self.text_proj = video_proj, text_proj
        self.refinement, self.text_pos = refinement, text_pos
        self.fusion, self.encoder, self.decoder = fusion, encoder, decoder
        self.hidden_dim = hidden_dim
        self.saliency_head = nn.Linear(hidden_dim, 1)
        self.gru = nn.GRU(hidden_dim, hidden_dim, num_layers=1, batch_first=True)
        self.moment_heads = MomentHeads(hidden_dim)

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
            src_vid: float (B, L, Dv) clip features (as for VideoLights).
            src_vid_mask: float/bool (B, L), 1 = valid clip; padding after the valid clips.
            src_txt: float (B, N, Dt) token features.
            src_txt_mask: float/bool (B, N), 1 = valid token; padding after the valid tokens.
            negatives: accepted for interface parity; TR-DETR has no negative-pair pass.

        Returns:
            dict with
              pred_logits: float (B, Q, 2), index 0 = foreground; pred_spans: float (B, Q, 2)
                  normalised (centre, width); aux_outputs: list (dec_layers - 1) of dicts with
                  the same keys for the earlier decoder layers;
              saliency_scores: float (B, L) refined highlight scores H- (MR2HD);
              saliency_scores_hd2mr: float (B, L) first highlight scores H (HD2MR);
              mr_clip_range: int64 (B, 2) inclusive clips of the top-1 span read by the GRU;
              video_projected: float (B, L, D) F^_v and text_projected: float (B, N, D) F^_t
                  (inputs of the alignment regulators); video_refined: float (B, L, D) F-_v;
              video_mask: bool (B, L); text_mask: bool (B, N).
            Saliency values at padded clips are undefined; use video_mask.
        """
        video_mask, text_mask = src_vid_mask.bool(), src_txt_mask.bool()
        video = self.video_proj(src_vid)  # F^_v (B, L, D)
        text = self.text_proj(src_txt)  # F^_t (B, N, D)
        refined = self.refinement(video, text, video_mask, text_mask)  # F-_v (B, L, D)
        video_pos = sine_positions(video_mask, self.hidden_dim)  # (B, L, D)
        joint = self._fuse(refined, text, video_mask, text_mask, video_pos)  # Z (B, L, D)
        memory, highlight = self._hd2mr(joint, video_mask, video_pos)  # Z^, H
        hidden, references = self.decoder(memory, video_mask, video_pos)
        out: dict = self.moment_heads(hidden, references)
        out["saliency_scores"], out["mr_clip_range"] = self._mr2hd(
            video, memory, video_mask, out["pred_logits"], out["pred_spans"]
        )
        out["saliency_scores_hd2mr"] = highlight
        out.update(video_projected=video, text_projected=text, video_refined=refined)
        out.update(video_mask=video_mask, text_mask=text_mask)
        return out

    def _fuse(
        self, video: Tensor, text: Tensor, video_mask: Tensor, text_mask: Tensor, video_pos: Tensor
    ) -> Tensor:
        """Eq. 11: cross-attention of the refined clips over the words, (B, L, D)."""
        text_pos = self.text_pos(text) if self.text_pos is not None else torch.zeros_like(text)
        for layer in self.fusion:
            video = layer(video, text, video_mask, text_mask, video_pos, text_pos)
        return video

    def _encode(self, tokens: Tensor, video_pos: Tensor, video_mask: Tensor) -> Tensor:
        """The shared MHA stack of HD2MR: (B, L, D) -> (B, L, D)."""
        for layer in self.encoder:
            tokens = layer(tokens, video_pos, ~video_mask)
        return tokens

    def _saliency(self, features: Tensor) -> Tensor:
        """Linear(d, 1) per clip: (B, L, D) -> (B, L)."""
        return self.saliency_head(features).squeeze(-1)

    def _hd2mr(self, joint: Tensor, video_mask: Tensor, video_pos: Tensor) -> tuple[Tensor, Tensor]:
        """Eqs. 12-13. Returns Z^ (B, L, D), the decoder memory, and H (B, L)."""
        highlight = self._saliency(self._encode(joint, video_pos, video_mask))  # H (B, L)
        weight = masked_softmax(highlight, video_mask).unsqueeze(-1)  # Softmax(H) (B, L, 1)
        memory = self._encode(joint + weight * joint, video_pos, video_mask)  # Z^ (B, L, D)
        return memory, highlight

    def _mr2hd(
        self,
        video: Tensor,
        memory: Tensor,
        video_mask: Tensor,
        pred_logits: Tensor,
        pred_spans: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Eqs. 14-16. Returns H- (B, L) and the top-1 span's clip range int64 (B, 2)."""
        first, last = top1_clip_range(pred_logits, pred_spans, video_mask.sum(1))
        moment = encode_span(self.gru, video, first, last)  # F_v^M (B, D), Eq. 14
        relevance = F.cosine_similarity(video, moment.unsqueeze(1), dim=-1)  # S_ref (B, L)
        weight = masked_softmax(relevance, video_mask).unsqueeze(-1)  # (B, L, 1)
        saliency = self._saliency(memory + weight * memory)  # H- (B, L), Eq. 16
        return saliency, torch.stack([first, last], dim=-1)


def build_trdetr(cfg: ModelConfig) -> TRDETR:
    """TR-DETR from a ModelConfig (name "trdetr"); called through model.build.MODEL_REGISTRY.

    Reads: dims, heads, FFN, dropouts, projection(+_layers), fusion(+_layers) (the paper's
    cross-attention is "t2v"), enc_layers (the HD2MR MHA stack), dec_layers, num_queries,
    max_query_tokens and text_positions. VideoLights-only switches are ignored.
    """
    d, heads, ffn, drop = cfg.hidden_dim, cfg.num_heads, cfg.ffn_dim, cfg.dropout
    fusion_cls = BiCMFLayer if cfg.fusion == "bicmf" else TextToVideoLayer

    def projection(in_dim: int) -> InputProjection:
        return InputProjection(in_dim, d, cfg.projection_layers, cfg.input_dropout, cfg.projection)

    return TRDETR(
        video_proj=projection(cfg.video_dim),
        text_proj=projection(cfg.text_dim),
        refinement=VisualFeatureRefinement(d, drop),
        fusion=nn.ModuleList(fusion_cls(d, heads, ffn, drop) for _ in range(cfg.fusion_layers)),
        encoder=nn.ModuleList(EncoderLayer(d, heads, ffn, drop) for _ in range(cfg.enc_layers)),
        decoder=AnchorDecoder(d, heads, ffn, drop, cfg.dec_layers, cfg.num_queries),
        hidden_dim=d,
        text_pos=LearnedPositionalEncoding(cfg.max_query_tokens, d) if cfg.text_positions else None,
    )
