"""TR-DETR: regulators (Eqs. 3-5), refinement (Eqs. 6-10), HD2MR / MR2HD, padding, training."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from model.build import build_from_checkpoint, build_model, count_parameters, make_checkpoint
from model.config import ExperimentConfig
from model.layers.position import sine_positions
from model.losses.trdetr import global_regulator_loss, local_regulator_loss, relevant_clips
from model.presets import describe_preset, get_preset
from model.trdetr import TRDETR
from model.unijfm import top1_clip_range
from model.vfr import VisualFeatureRefinement

# Trainable parameters of the authors' TR-DETR on QVHighlights (SlowFast+CLIP, d=256, 2+2
# layers), counted from the release's module shapes; the paper states no count. The release
# also builds an unused 32 x 256 text-position table (+8,704), left out here.
RELEASE_PARAMS = 8_300_063


def _config(**model_updates) -> ExperimentConfig:
    base = get_preset("trdetr-tiny").model_dump()
    base["model"].update(model_updates)
    return ExperimentConfig.model_validate(base)


# --- Eqs. 3-5: local and global regulators ---------------------------------------------
def test_local_regulator_is_bce_of_the_word_averaged_sigmoid_cosine() -> None:
    gen = torch.Generator().manual_seed(0)
    video, text = torch.randn(2, 4, 8, generator=gen), torch.randn(2, 3, 8, generator=gen)
    video_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]).bool()
    text_mask = torch.tensor([[1, 1, 1], [1, 1, 0]]).bool()
    relevant = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0]]).bool()
    per_video = []
    for b in range(2):
        terms = []
        for i in range(int(video_mask[b].sum())):
            words = range(int(text_mask[b].sum()))
            # Eq. 3 then mean-pooling over the words
            cosines = [F.cosine_similarity(video[b, i], text[b, j], dim=0) for j in words]
            s = torch.sigmoid(torch.stack(cosines)).mean()
            c = float(relevant[b, i])
            terms.append(-(c * torch.log(s) + (1 - c) * torch.log(1 - s)))  # Eq. 4
        per_video.append(torch.stack(terms).mean())
    loss = local_regulator_loss(video, text, video_mask, text_mask, relevant)
    assert torch.allclose(loss, torch.stack(per_video).mean(), atol=1e-6)
    video[1, 3], text[1, 2] = 1e3, -1e3  # padded clip and word change nothing
    assert torch.allclose(local_regulator_loss(video, text, video_mask, text_mask, relevant), loss)


def test_global_regulator_is_infonce_over_the_video_sentence_pairs() -> None:
    gen = torch.Generator().manual_seed(1)
    video, text = torch.randn(3, 5, 8, generator=gen), torch.randn(3, 4, 8, generator=gen)
    video_mask, text_mask = torch.ones(3, 5, dtype=torch.bool), torch.ones(3, 4, dtype=torch.bool)
    video_mask[2, 3:], text_mask[0, 2:] = False, False
    g_v = torch.stack([video[b][video_mask[b]].mean(0) for b in range(3)])  # G_v: mean of clips
    g_t = torch.stack([text[b][text_mask[b]].mean(0) for b in range(3)])  # G_t: mean of words
    logits = F.normalize(g_v, dim=1) @ F.normalize(g_t, dim=1).T / 0.07  # (video, sentence)
    video_to_text = -torch.stack([logits[i, i] - logits[i].logsumexp(0) for i in range(3)]).mean()
    text_to_video = -torch.stack([logits[i, i] - logits[:, i].logsumexp(0) for i in range(3)]).mean()
    loss = global_regulator_loss(video, text, video_mask, text_mask, temperature=0.07)
    assert torch.allclose(loss, (video_to_text + text_to_video) / 2, atol=1e-5)
    # paired features that agree score far lower than the same features mismatched
    aligned = global_regulator_loss(video, video[:, :4], video_mask, video_mask[:, :4], 0.07)
    shuffled = global_regulator_loss(video, video[[1, 2, 0], :4], video_mask, video_mask[:, :4], 0.07)
    assert aligned < 0.1 < shuffled
    assert global_regulator_loss(video[:1], text[:1], video_mask[:1], text_mask[:1], 0.07) == 0


def test_relevant_clips_are_those_overlapping_a_moment() -> None:
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 5:] = False
    spans = [torch.tensor([[0.25, 0.1], [0.85, 0.1]]), torch.tensor([[0.5, 0.4]])]
    relevant = relevant_clips(spans, mask)
    assert relevant[0].nonzero().flatten().tolist() == [2, 8]
    assert relevant[1].nonzero().flatten().tolist() == [1, 2, 3]  # of 5 valid clips
    assert not relevant_clips([torch.empty(0, 2), spans[1]], mask)[0].any()


# --- Eqs. 6-10: visual feature refinement ----------------------------------------------
def test_refinement_is_a_linear_map_of_the_eq9_concatenation() -> None:
    torch.manual_seed(0)
    vfr = VisualFeatureRefinement(8, dropout=0.5).eval()
    video, words = torch.randn(6, 8), torch.randn(3, 8)
    a = vfr.video_key(video) @ vfr.text_key(words).T / math.sqrt(8)  # Eq. 6, (L, N)
    a_r, a_c = a.softmax(dim=1), a.softmax(dim=0)  # rows over words, columns over clips
    v2q = a_r @ words  # Eq. 7
    q2v = a_r @ a_c.T @ video  # Eq. 8
    sentence = ((words @ vfr.pool.weight).softmax(0) * words).sum(0).expand(6, 8)  # F_t^G
    concat = torch.cat([video, v2q, video * v2q, video * q2v, sentence], dim=1)  # Eq. 9, (L, 5d)
    expected = vfr.out(concat)  # Eq. 10
    ones = lambda n: torch.ones(1, n, dtype=torch.bool)  # noqa: E731
    got = vfr(video[None], words[None], ones(6), ones(3))[0]
    assert torch.allclose(got, expected, atol=1e-6)
    # padded clips / words (garbage) leave the valid clips alone and come out as zeros
    video_pad = torch.cat([video, 50 * torch.ones(2, 8)])[None]
    words_pad = torch.cat([words, -50 * torch.ones(2, 8)])[None]
    video_mask, word_mask = torch.arange(8)[None] < 6, torch.arange(5)[None] < 3
    padded = vfr(video_pad, words_pad, video_mask, word_mask)[0]
    assert torch.allclose(padded[:6], expected, atol=1e-5) and not padded[6:].any()


# --- Eqs. 12-16: task cooperation -------------------------------------------------------
def _run_with_hooks(model: TRDETR, batch: dict) -> tuple[dict, dict]:
    seen: dict = {}
    hooks = [
        model.fusion[-1].register_forward_hook(lambda m, i, o: seen.__setitem__("joint", o)),
        model.decoder.register_forward_pre_hook(lambda m, a: seen.__setitem__("memory", a[0])),
    ]
    with torch.no_grad():
        out = model(**batch)
    for hook in hooks:
        hook.remove()
    return out, seen


def test_hd2mr_feeds_softmax_h_weighted_features_to_the_decoder(make_batch) -> None:
    cfg = _config(enc_layers=2)
    model, _, _ = build_model(cfg)
    model.eval()
    out, seen = _run_with_hooks(model, make_batch(cfg, [7, 5], [3, 2], seed=1))
    mask = out["video_mask"]
    pos, joint = sine_positions(mask, cfg.model.hidden_dim), seen["joint"]

    def mha(x):  # the one encoder stack, used twice (shared weights)
        with torch.no_grad():
            for layer in model.encoder:
                x = layer(x, pos, ~mask)
        return x

    with torch.no_grad():
        h = model.saliency_head(mha(joint)).squeeze(-1)  # Eq. 12: H = Linear(MHA(Z))
    assert torch.allclose(out["saliency_scores_hd2mr"][mask], h[mask], atol=1e-5)
    weights = torch.exp(h) * mask / (torch.exp(h) * mask).sum(1, keepdim=True)  # Softmax(H)
    expected = mha(joint + weights.unsqueeze(-1) * joint)  # Eq. 13: MHA(Z + Softmax(H) * Z)
    assert torch.allclose(seen["memory"][mask], expected[mask], atol=1e-5)
    assert not torch.allclose(seen["memory"][mask], mha(joint)[mask], atol=1e-3)


def test_mr2hd_rescores_clips_by_similarity_to_the_top1_moment(make_batch) -> None:
    cfg = _config(dec_layers=2)
    model, _, _ = build_model(cfg)
    model.eval()
    batch = make_batch(cfg, [9, 6], [3, 4], seed=2)
    out, seen = _run_with_hooks(model, batch)
    first, last = top1_clip_range(out["pred_logits"], out["pred_spans"], out["video_mask"].sum(1))
    assert torch.equal(out["mr_clip_range"], torch.stack([first, last], -1))
    with torch.no_grad():
        video = model.video_proj(batch["src_vid"])  # F^_v
        for b, n in enumerate((9, 6)):
            moment = model.gru(video[b : b + 1, first[b] : last[b] + 1])[1][-1, 0]  # Eq. 14
            s_ref = F.cosine_similarity(video[b, :n], moment[None], dim=1)  # Eq. 15
            memory = seen["memory"][b, :n]  # Z^
            expected = model.saliency_head(memory + s_ref.softmax(0)[:, None] * memory)  # Eq. 16
            assert torch.allclose(out["saliency_scores"][b, :n], expected.squeeze(-1), atol=1e-5)


# --- whole model ----------------------------------------------------------------------
def test_padding_changes_nothing(make_batch) -> None:
    cfg = _config(dec_layers=2)
    model, _, _ = build_model(cfg)
    model.eval()
    alone = make_batch(cfg, [7], [3], seed=1)
    batch = make_batch(cfg, [7, 12], [3, 6], seed=2, pad_value=50.0)
    for key, value in alone.items():
        batch[key][0, : value.shape[1]] = value[0]
    with torch.no_grad():
        a, p = model(**alone), model(**batch)
    for key in ("pred_logits", "pred_spans", "mr_clip_range"):
        assert torch.allclose(p[key][:1].float(), a[key].float(), atol=1e-5), key
    for key in ("saliency_scores", "saliency_scores_hd2mr", "video_refined", "video_projected"):
        assert torch.allclose(p[key][:1, :7], a[key], atol=1e-5), key
    aux_padded, aux_alone = p["aux_outputs"][0]["pred_spans"], a["aux_outputs"][0]["pred_spans"]
    assert torch.allclose(aux_padded[:1], aux_alone, atol=1e-5)


# Layer 0 of the decoder runs self-attention on an all-zero target (as in DAB-DETR).
ZERO_INPUT = {f"decoder.layers.0.{n}.weight" for n in ("sa_q_content", "sa_k_content", "sa_value")}


def test_gradients_reach_every_learnable_parameter(make_batch, make_targets) -> None:
    cfg = _config(dec_layers=2)
    model, criterion, _ = build_model(cfg)
    assert {"loss_local", "loss_global"} <= set(criterion.weight_dict)
    assert criterion.weight_dict["loss_local"] == criterion.weight_dict["loss_global"] == 0.3
    out = model(**make_batch(cfg, [10, 8, 6], [4, 3, 2], seed=6))
    losses = criterion(out, make_targets([10, 8, 6], seed=6))
    losses["total"].backward()
    missing = [
        name for name, p in model.named_parameters()
        if name not in ZERO_INPUT and (p.grad is None or not p.grad.abs().sum() > 0)
    ]  # fmt: skip
    assert not missing, missing


def test_tiny_model_overfits_a_planted_moment(overfit_planted) -> None:
    # as for VideoLights: 2 decoder layers, light input dropout, a final low-lr phase
    start, end, ious = overfit_planted(_config(dec_layers=2, input_dropout=0.1), steps=160, lr_drop=120)
    assert end < 0.3 * start, (start, end)
    assert min(ious) > 0.7, ious


def test_checkpoint_round_trip(tmp_path, make_batch) -> None:
    cfg = _config()
    model, _, _ = build_model(cfg)
    model.eval()
    torch.save(make_checkpoint(model, cfg), tmp_path / "trdetr.pt")
    checkpoint = torch.load(tmp_path / "trdetr.pt", weights_only=True)
    loaded, criterion, _, loaded_cfg = build_from_checkpoint(checkpoint)
    loaded.eval()
    assert isinstance(loaded, TRDETR) and loaded_cfg == cfg and "loss_local" in criterion.weight_dict
    batch = make_batch(cfg, [6, 4], [3, 3])
    with torch.no_grad():
        a, b = model(**batch), loaded(**batch)
    assert torch.equal(a["pred_spans"], b["pred_spans"])
    assert torch.equal(a["saliency_scores"], b["saliency_scores"])


def test_inference_interface_and_postprocess(make_batch) -> None:
    cfg = _config()
    model, _, postprocess = build_model(cfg)
    model.eval()
    with torch.no_grad():
        out = model(**make_batch(cfg, [6, 4], [3, 3]), negatives=False)
    assert "saliency_scores_neg" not in out
    results = postprocess(out)
    assert len(results[1]["saliency"]) == 4 and len(results[0]["windows"]) == cfg.model.num_queries


# --- presets --------------------------------------------------------------------------
def test_presets_follow_the_paper() -> None:
    qv = get_preset("trdetr-qvhighlights")
    m, loss = qv.model, qv.loss
    assert (m.name, m.hidden_dim, m.num_heads) == ("trdetr", 256, 8)
    assert (m.enc_layers, m.dec_layers, m.num_queries, m.projection) == (2, 2, 10, "linear")
    assert (m.video_dim, m.text_dim) == (2818, 512)
    assert loss.local_regulator_weight == loss.global_regulator_weight == 0.3  # lambda_lg
    assert (qv.train.epochs, qv.train.batch_size, qv.train.lr) == (200, 32, 1e-4)
    ch, tv = get_preset("trdetr-charades_sta").train, get_preset("trdetr-tvsum")
    assert (ch.epochs, ch.batch_size, ch.lr) == (100, 8, 1e-4)
    assert (tv.train.epochs, tv.train.batch_size, tv.train.lr) == (2000, 4, 1e-3)
    assert not tv.loss.moment_losses
    for name in ("trdetr-charades_sta", "trdetr-tvsum", "trdetr-tiny"):
        build_model(get_preset(name))


def test_parameter_count_matches_the_release() -> None:
    model, _, _ = build_model(get_preset("trdetr-qvhighlights"))
    assert count_parameters(model) == pytest.approx(RELEASE_PARAMS, rel=0.002)
    assert f"parameters: {count_parameters(model)}" in describe_preset("trdetr-qvhighlights")
