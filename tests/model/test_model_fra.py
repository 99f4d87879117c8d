"""FRA and the fusion layers: shapes and masking of padded clips and words."""

from __future__ import annotations

import torch

from model.bicmf import BiCMFLayer, TextToVideoLayer
from model.fra import FeatureRefinement, WeightedPool
from model.layers.position import sine_positions


def _inputs(clips: int, words: int, dim: int = 8, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, clips, dim, generator=gen), torch.randn(1, words, dim, generator=gen)


def _padded(video, text, extra_clips: int, extra_words: int):
    garbage_v = torch.full((1, extra_clips, video.shape[-1]), 30.0)
    garbage_t = torch.full((1, extra_words, text.shape[-1]), -30.0)
    video_p, text_p = torch.cat([video, garbage_v], 1), torch.cat([text, garbage_t], 1)
    video_mask = torch.arange(video_p.shape[1])[None] < video.shape[1]
    text_mask = torch.arange(text_p.shape[1])[None] < text.shape[1]
    return video_p, text_p, video_mask, text_mask


def test_fra_shapes_and_zero_padded_clips() -> None:
    fra = FeatureRefinement(8, dropout=0.1).eval()
    video, text = _inputs(5, 3)
    video_p, text_p, vmask, tmask = _padded(video, text, 2, 2)
    out = fra(video_p, text_p, vmask, tmask)
    assert out.shape == (1, 7, 8)
    assert torch.equal(out[0, 5:], torch.zeros(2, 8))


def test_fra_ignores_padded_words_and_clips() -> None:
    fra = FeatureRefinement(8, dropout=0.1).eval()
    video, text = _inputs(5, 3)
    alone = fra(video, text, torch.ones(1, 5, dtype=torch.bool), torch.ones(1, 3, dtype=torch.bool))
    video_p, text_p, vmask, tmask = _padded(video, text, 4, 6)
    padded = fra(video_p, text_p, vmask, tmask)
    assert torch.allclose(padded[:, :5], alone, atol=1e-5)


def test_fra_word_correlation_is_masked() -> None:
    fra = FeatureRefinement(8, dropout=0.0).eval()
    video, text = _inputs(4, 2)
    video_p, text_p, _, tmask = _padded(video, text, 0, 3)
    corr = fra.correlation(video_p, text_p, tmask)
    assert torch.allclose(corr, fra.correlation(video, text, torch.ones(1, 2, dtype=torch.bool)))
    # the term depends on the clip (it is not a per-clip constant)
    assert not torch.allclose(corr[0, 0], corr[0, 1])


def test_weighted_pool_ignores_padded_words() -> None:
    pool = WeightedPool(8)
    _, text = _inputs(1, 3)
    text_p = torch.cat([text, torch.full((1, 2, 8), 99.0)], 1)
    mask = torch.tensor([[True, True, True, False, False]])
    assert torch.allclose(pool(text_p, mask), pool(text, torch.ones(1, 3, dtype=torch.bool)))


def test_fusion_layers_ignore_padding() -> None:
    for layer_cls in (BiCMFLayer, TextToVideoLayer):
        layer = layer_cls(8, 2, 16, 0.1).eval()
        video, text = _inputs(5, 3, seed=1)
        ones_v, ones_t = torch.ones(1, 5, dtype=torch.bool), torch.ones(1, 3, dtype=torch.bool)
        alone = layer(video, text, ones_v, ones_t, sine_positions(ones_v, 8), torch.zeros_like(text))
        video_p, text_p, vmask, tmask = _padded(video, text, 3, 2)
        padded = layer(video_p, text_p, vmask, tmask, sine_positions(vmask, 8), torch.zeros_like(text_p))
        assert padded.shape == (1, 8, 8)
        assert torch.allclose(padded[:, :5], alone, atol=1e-5), layer_cls.__name__
