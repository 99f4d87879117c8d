"""TaskWeave's task-decoupled transformer (transformer.py:145-243): T2V fusion, a temporal max-pool,
task projections, one shared encoder run per task, task experts, and the DAB decoder on the MR memory.

The T2V layer (release settings, [video | text] layout), the post-norm encoder layer and the DAB
decoder are the lineage's (model.zoo.common), all with PReLU FFNs (build_transformer(activation='prelu')).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from model.zoo.common.decoder import DABDecoder
from model.zoo.common.encoder import Encoder, EncoderLayer, T2VEncoder, T2VEncoderLayer, xavier_init


class MaskedConv1D(nn.Module):
    """Conv1d whose output is multiplied by a keep-mask (ActionFormer's MaskedConv1D, stride 1).

    Parameter `conv.weight` (and `conv.bias` if bias).
    """

    def __init__(self, channels: int, kernel_size: int, groups: int, bias: bool) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, 1, kernel_size // 2, groups=groups, bias=bias)
        if bias:
            nn.init.constant_(self.conv.bias, 0.0)

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        """Args: x float (B, C, T); keep bool (B, 1, T), True = keep. Returns float (B, C, T)."""
        return self.conv(x) * keep.to(x.dtype).detach()


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of a (B, C, T) tensor; weight/bias shaped (1, C, 1); eps 1e-5."""

    def __init__(self, num_channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones([1, num_channels, 1]))
        self.bias = nn.Parameter(torch.zeros([1, num_channels, 1]))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, T) -> (B, C, T)."""
        res = x - x.mean(dim=1, keepdim=True)
        sigma = (res**2).mean(dim=1, keepdim=True)
        return res / torch.sqrt(sigma + self.eps) * self.weight + self.bias


@dataclass
class TransformerOutput:
    """What one pass of the transformer gives.

    Attributes:
        hd_memory: float (B, Lv, d) highlight memory (hd_linear(x) * shared encoder of it).
        mr_memory: float (B, Lv, d) moment memory (MR expert * shared encoder of mr_linear(x)), or None.
        hs: float (layers, B, Q, d) normed decoder outputs, or None.
        references: float (layers, B, Q, 2) anchors each layer refines, or None.
    """

    hd_memory: Tensor
    mr_memory: Tensor | None = None
    hs: Tensor | None = None
    references: Tensor | None = None


class TaskDecoupledTransformer(nn.Module):
    """Parameter names follow the release's `Transformer` (state-dict prefix `transformer.`)."""

    def __init__(
        self, d_model: int, nhead: int, num_encoder_layers: int, num_decoder_layers: int, dim_feedforward: int,
        dropout: float, mr_expert_keeps_valid: bool = False,
    ) -> None:
        """mr_expert_keeps_valid: the `mr_expert_mask` correction (keep the conv at valid clips)."""
        super().__init__()
        self.t2v_encoder = T2VEncoder(
            T2VEncoderLayer(d_model, nhead, dim_feedforward, dropout), num_encoder_layers
        )
        self.temporalmaxer = nn.MaxPool1d(kernel_size=5, stride=1, padding=2)
        self.shared_encoder = Encoder(EncoderLayer(d_model, nhead, dim_feedforward, dropout), num_layers=2)
        self.mr_linear = nn.Linear(d_model, d_model)
        self.hd_linear = nn.Linear(d_model, d_model)
        self.mr_conv = MaskedConv1D(d_model, kernel_size=5, groups=d_model, bias=False)
        self.mr_norm = ChannelLayerNorm(d_model)
        self.mr_proj = nn.Conv1d(d_model, d_model, 1)
        self.mr_decoder = DABDecoder(d_model, nhead, dim_feedforward, dropout, num_decoder_layers)
        xavier_init(self)
        self.d_model = d_model
        self.mr_expert_keeps_valid = mr_expert_keeps_valid

    def _maxpool(self, x: Tensor) -> Tensor:
        """Max over 5 neighbouring clips (padded clips included): (L, B, d) -> (L, B, d)."""
        return self.temporalmaxer(x.permute(1, 2, 0)).permute(2, 0, 1)

    def forward(
        self, src: Tensor, padding_mask: Tensor, anchors: Tensor, pos: Tensor, video_length: int,
        moments: bool = True,
    ) -> TransformerOutput:
        """Args:
            src: float (B, Lv + Lt, d) projected clips then tokens.
            padding_mask: bool (B, Lv + Lt), True at padding.
            anchors: float (Q, 2) learnt anchors before the sigmoid (query_embed.weight).
            pos: float (B, Lv + Lt, d) clip sine positions, then zeros for the tokens.
            video_length: Lv.
            moments: also compute the MR branch and the decoder (False: the highlight memory only,
                which is all the release uses of its first HgF pass and of its negative pass).
        """
        bs = src.shape[0]
        src = src.permute(1, 0, 2)
        pos = pos.permute(1, 0, 2)
        fused = self.t2v_encoder(src, padding_mask, pos, video_length)[:video_length]
        vid_mask = padding_mask[:, :video_length]
        vid_pos = pos[:video_length]
        x = self._maxpool(fused)

        hd_in = self.hd_linear(x)
        hd_shared = self._maxpool(self.shared_encoder(hd_in, vid_mask, vid_pos))
        hd_memory = (hd_in * hd_shared).transpose(0, 1)
        if not moments:
            return TransformerOutput(hd_memory=hd_memory)

        mr_in = self.mr_linear(x)
        mr_shared = self._maxpool(self.shared_encoder(mr_in, vid_mask, vid_pos))
        keep = ~vid_mask if self.mr_expert_keeps_valid else vid_mask  # release: the padding mask
        mr_expert = self.mr_conv(mr_in.permute(1, 2, 0), keep.unsqueeze(1))
        mr_expert = self.mr_proj(self.mr_norm(mr_expert)).permute(2, 0, 1)
        mr_spec = mr_expert * mr_shared

        anchors = anchors.unsqueeze(1).repeat(1, bs, 1)
        hs, references = self.mr_decoder(mr_spec, vid_mask, vid_pos, anchors)
        return TransformerOutput(
            hd_memory=hd_memory, mr_memory=mr_spec.transpose(0, 1), hs=hs, references=references
        )
