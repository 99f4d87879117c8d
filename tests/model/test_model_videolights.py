"""VideoLights end to end on tiny random modules: padding, negative pass, Uni-JFM, gradients."""

from __future__ import annotations

import pytest
import torch

from model.build import MODEL_REGISTRY, build_from_checkpoint, build_model, make_checkpoint
from model.unijfm import gather_span_clips, top1_clip_range


def _compare(alone: dict, padded: dict, clips: int, words: int, atol: float = 1e-5) -> None:
    for key in ("pred_logits", "pred_spans", "proj_queries", "mr_clip_range"):
        assert torch.allclose(padded[key][:1].float(), alone[key].float(), atol=atol), key
    for key in ("saliency_scores", "saliency_scores_mr"):
        assert torch.allclose(padded[key][:1, :clips], alone[key], atol=atol), key
    assert torch.allclose(padded["video_refined"][:1, :clips], alone["video_refined"], atol=atol)
    assert torch.allclose(padded["proj_txt"][:1, :words], alone["proj_txt"], atol=atol)
    for aux_alone, aux_padded in zip(alone["aux_outputs"], padded["aux_outputs"]):
        assert torch.allclose(aux_padded["pred_spans"][:1], aux_alone["pred_spans"], atol=atol)


def test_padding_changes_nothing(tiny_config, make_batch) -> None:
    cfg = tiny_config(dec_layers=2)
    model, _, _ = build_model(cfg)
    model.eval()
    alone = make_batch(cfg, [7], [3], seed=1)
    # same sample first in a batch whose other video/query are longer: extra padded clips
    # and words, filled with large garbage values
    batch = make_batch(cfg, [7, 12], [3, 6], seed=2, pad_value=50.0)
    for key in alone:
        length = alone[key].shape[1]
        batch[key][0, :length] = alone[key][0]
    with torch.no_grad():
        _compare(model(**alone), model(**batch), clips=7, words=3)


def test_negative_pass_scores_clips_against_the_next_query(tiny_config, make_batch) -> None:
    cfg = tiny_config(fra=False)  # without FRA the negative pass equals a plain pass
    model, _, _ = build_model(cfg)
    model.eval()
    batch = make_batch(cfg, [6, 9], [4, 2], seed=3)
    swapped = {  # video 0 with query 1, alone
        "src_vid": batch["src_vid"][:1, :6],
        "src_vid_mask": batch["src_vid_mask"][:1, :6],
        "src_txt": batch["src_txt"][1:, :2],
        "src_txt_mask": batch["src_txt_mask"][1:, :2],
    }
    with torch.no_grad():
        neg = model(**batch)["saliency_scores_neg"]
        expected = model(**swapped)["saliency_scores"]
    assert torch.allclose(neg[0, :6], expected[0], atol=1e-5)


def test_negative_pass_depends_on_the_other_query_only(tiny_config, make_batch) -> None:
    cfg = tiny_config()
    model, _, _ = build_model(cfg)
    model.eval()
    batch = make_batch(cfg, [6, 6], [3, 3], seed=4)
    changed = {k: v.clone() for k, v in batch.items()}
    changed["src_txt"][1] = torch.randn_like(changed["src_txt"][1])
    with torch.no_grad():
        out, out_changed = model(**batch), model(**changed)
    assert torch.allclose(out["saliency_scores"][0], out_changed["saliency_scores"][0])
    assert not torch.allclose(out["saliency_scores_neg"][0], out_changed["saliency_scores_neg"][0])


def test_gather_span_clips_takes_exactly_the_span() -> None:
    features = torch.arange(2 * 6 * 3, dtype=torch.float32).view(2, 6, 3)
    clips, lengths = gather_span_clips(features, torch.tensor([1, 4]), torch.tensor([3, 4]))
    assert lengths.tolist() == [3, 1]
    assert torch.equal(clips[0], features[0, 1:4])
    assert torch.equal(clips[1, 0], features[1, 4]) and torch.equal(clips[1, 1:], torch.zeros(2, 3))


def test_top1_clip_range_uses_the_most_confident_query() -> None:
    logits = torch.tensor([[[0.0, 3.0], [3.0, 0.0], [1.0, 0.0]]])  # query 1 is top-1
    spans = torch.tensor([[[0.1, 0.1], [0.45, 0.3], [0.9, 0.1]]])  # [0.3, 0.6] of 10 clips
    first, last = top1_clip_range(logits, spans, torch.tensor([10]))
    assert (first.item(), last.item()) == (3, 5)


def test_uni_jfm_feeds_the_gru_exactly_the_top1_clips(tiny_config, make_batch) -> None:
    cfg = tiny_config()
    model, _, _ = build_model(cfg)
    model.eval()
    batch = make_batch(cfg, [9, 5], [3, 2], seed=5)
    seen = []
    hook = model.uni_jfm.gru.register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
    with torch.no_grad():
        out = model(**batch)
    hook.remove()
    first, last = top1_clip_range(out["pred_logits"], out["pred_spans"], out["video_mask"].sum(1))
    assert torch.equal(out["mr_clip_range"], torch.stack([first, last], -1))
    packed = seen[0]  # PackedSequence of the gathered clips
    video = model.video_proj(batch["src_vid"])
    expected = [video[b, first[b] : last[b] + 1] for b in range(2)]
    unpacked = torch.nn.utils.rnn.unpack_sequence(packed)
    for got, want in zip(unpacked, expected):
        assert torch.allclose(got, want, atol=1e-6)


# Layer 0 of the decoder runs self-attention on an all-zero target: the weights of its
# content projections multiply zeros and cannot receive gradient (as in DAB-DETR/QD-DETR).
ZERO_INPUT = {
    "decoder.layers.0.sa_q_content.weight",
    "decoder.layers.0.sa_k_content.weight",
    "decoder.layers.0.sa_value.weight",
}


def test_gradients_reach_every_learnable_parameter(tiny_config, make_batch, make_targets) -> None:
    cfg = tiny_config(dec_layers=2)
    model, criterion, _ = build_model(cfg)
    model.train()
    batch = make_batch(cfg, [10, 8, 6], [4, 3, 2], seed=6)
    losses = criterion(model(**batch), make_targets([10, 8, 6], seed=6))
    losses["total"].backward()
    missing = [
        name
        for name, p in model.named_parameters()
        if name not in ZERO_INPUT and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert not missing, missing


@pytest.mark.parametrize(
    "updates",
    [
        {"fra": False},
        {"fusion": "t2v"},
        {"uni_jfm": False},
        {"negative_pairs": False},
        {"align_dim": 0},
        {"projection": "linear", "text_positions": False},
    ],
)
def test_ablation_switches_build_and_train(updates, tiny_config, make_batch, make_targets) -> None:
    # a part that is switched off takes its loss term with it
    loss_off = {
        "uni_jfm": {"task_coupled_weight": 0.0},
        "negative_pairs": {"neg_pair_weight": 0.0},
        "align_dim": {"alignment_weight": 0.0},
    }
    loss = {k: v for field, off in loss_off.items() if field in updates for k, v in off.items()}
    cfg = tiny_config(loss=loss, **updates)
    model, criterion, _ = build_model(cfg)
    out = model(**make_batch(cfg, [8, 6], [3, 2]))
    losses = criterion(out, make_targets([8, 6]))
    losses["total"].backward()
    assert torch.isfinite(losses["total"])


def test_checkpoint_round_trip(tmp_path, tiny_config, make_batch) -> None:
    cfg = tiny_config()
    model, _, _ = build_model(cfg)
    model.eval()
    path = tmp_path / "tiny.pt"
    torch.save(make_checkpoint(model, cfg), path)
    loaded, _, _, loaded_cfg = build_from_checkpoint(torch.load(path, weights_only=True))
    loaded.eval()
    assert loaded_cfg == cfg
    batch = make_batch(cfg, [6, 4], [3, 3])
    with torch.no_grad():
        a, b = model(**batch), loaded(**batch)
    assert torch.equal(a["pred_spans"], b["pred_spans"])
    assert torch.equal(a["saliency_scores"], b["saliency_scores"])


def test_too_long_query_is_rejected(tiny_config, make_batch) -> None:
    cfg = tiny_config()
    model = MODEL_REGISTRY["videolights"](cfg.model.model_copy(update={"max_query_tokens": 4}))
    with pytest.raises(ValueError, match="max_query_tokens"):
        model(**make_batch(cfg, [5], [6]))
