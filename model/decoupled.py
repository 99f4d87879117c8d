"""TaskWeave's task-decoupled unit (shared and task-specific experts) and its HD decoder."""

from __future__ import annotations

import math
from typing import Literal

from torch import Tensor, nn

from model.layers.encoder import EncoderLayer
from model.layers.masked import masked_max_pool1d

ExpertKind = Literal["identity", "linear", "cnn", "transformer"]


class IdentityExpert(nn.Module):
    """Identity mapping (the paper's HD-specific expert)."""

    def forward(self, x: Tensor, mask: Tensor, pos: Tensor) -> Tensor:
        """Return x (B, L, D) unchanged."""
        return x


class LinearExpert(nn.Module):
    """One Linear layer per clip (Table 5, "Line.")."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)

    def forward(self, x: Tensor, mask: Tensor, pos: Tensor) -> Tensor:
        """Map (B, L, D) to (B, L, D)."""
        return self.linear(x)


class ConvExpert(nn.Module):
    """Depthwise Conv1d (kernel k, stride 1, zero padding k//2, no bias) -> LayerNorm over
    channels -> point-wise projection (the paper's MR-specific expert, Table 5 "CNN").

    Padded clips are zeroed before the convolution, so a clip next to the padding sees the
    same zeros it would see at the end of the video alone.
    """

    def __init__(self, dim: int, kernel: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim, bias=False)
        self.norm = nn.LayerNorm(dim)
        self.pointwise = nn.Linear(dim, dim)  # a kernel-1 Conv1d, applied per clip

    def forward(self, x: Tensor, mask: Tensor, pos: Tensor) -> Tensor:
        """Map (B, L, D) to (B, L, D); mask bool (B, L), True = valid clip."""
        keep = mask.unsqueeze(-1).to(x.dtype)  # (B, L, 1)
        local = self.depthwise((x * keep).transpose(1, 2)).transpose(1, 2)  # (B, L, D)
        return self.pointwise(self.norm(local * keep))


class TransformerExpert(nn.Module):
    """One post-norm self-attention encoder layer (Table 5, "Trans.")."""

    def __init__(self, dim: int, num_heads: int, ffn_dim: int, dropout: float) -> None:
        super().__init__()
        self.layer = EncoderLayer(dim, num_heads, ffn_dim, dropout)

    def forward(self, x: Tensor, mask: Tensor, pos: Tensor) -> Tensor:
        """Map (B, L, D) to (B, L, D); mask bool (B, L), pos (B, L, D)."""
        return self.layer(x, pos, ~mask)


def build_expert(
    kind: ExpertKind, dim: int, num_heads: int, ffn_dim: int, dropout: float, kernel: int
) -> nn.Module:
    """A task-specific expert network of the given kind."""
    experts = {
        "identity": IdentityExpert,
        "linear": lambda: LinearExpert(dim),
        "cnn": lambda: ConvExpert(dim, kernel),
        "transformer": lambda: TransformerExpert(dim, num_heads, ffn_dim, dropout),
    }
    return experts[kind]()


class TaskDecoupledUnit(nn.Module):
    """Eq. 1: X_mr = P_mr(M_mr(Z)) * S(M_mr(Z)) and X_hd = P_hd(M_hd(Z)) * S(M_hd(Z)).

    M_mr, M_hd: one-layer mappers (Linear d -> d); P_mr, P_hd: task-specific experts;
    S: the shared expert, a stack of encoder layers followed (as in the release) by the
    masked temporal max-pooling that TaskWeave also applies after fusion.
    """

    def __init__(
        self,
        dim: int,
        shared: nn.ModuleList,
        mr_expert: nn.Module,
        hd_expert: nn.Module,
        pool_kernel: int,
    ) -> None:
        super().__init__()
        self.mr_mapper, self.hd_mapper = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.shared, self.mr_expert, self.hd_expert = shared, mr_expert, hd_expert
        self.pool_kernel = pool_kernel

    def shared_expert(self, x: Tensor, mask: Tensor, pos: Tensor) -> Tensor:
        """S(.): (B, L, D) -> (B, L, D), zero at padded clips."""
        for layer in self.shared:
            x = layer(x, pos, ~mask)
        return masked_max_pool1d(x, mask, self.pool_kernel)

    def forward(self, joint: Tensor, mask: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
        """Task features of the query-aware clips.

        Args:
            joint: float (B, L, D) fused clips Z.
            mask: bool (B, L), True = valid clip.
            pos: float (B, L, D) clip positions.

        Returns:
            (X_mr, X_hd), each float (B, L, D).
        """
        mapped_mr, mapped_hd = self.mr_mapper(joint), self.hd_mapper(joint)
        x_mr = self.mr_expert(mapped_mr, mask, pos) * self.shared_expert(mapped_mr, mask, pos)
        x_hd = self.hd_expert(mapped_hd, mask, pos) * self.shared_expert(mapped_hd, mask, pos)
        return x_mr, x_hd


class HighlightDecoder(nn.Module):
    """Eq. 2: Y_hd = D_HD(J) + sum_k J_ik / sqrt(d), with D_HD = Linear -> Conv1d -> Linear(d, 1).

    The Conv1d has kernel 1 (as in the release), so every clip is scored on its own features.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size=1)
        self.out = nn.Linear(dim, 1)
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, features: Tensor) -> Tensor:
        """Score clips: J (B, L, D) -> saliency (B, L)."""
        hidden = self.conv(self.linear(features).transpose(1, 2)).transpose(1, 2)  # (B, L, D)
        return self.out(hidden).squeeze(-1) + features.sum(-1) * self.scale
