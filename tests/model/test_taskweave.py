"""TaskWeave: M2M / H2M converters, decoupled unit, feedback wiring, joint loss, training."""

from __future__ import annotations

import math

import pytest
import torch

from model.build import build_from_checkpoint, build_model, count_parameters, make_checkpoint
from model.config import ExperimentConfig
from model.feedback import highlightness_to_mask, moment_to_mask
from model.layers.position import sine_positions
from model.losses.taskweave import uncertainty_weighted_loss
from model.presets import describe_preset, get_preset
from model.spans import span_xx_to_cxw
from model.taskweave import TaskWeave

# Trainable parameters of the authors' TaskWeave on QVHighlights (SlowFast+CLIP, d=256, CNN MR
# expert), counted from the release's module shapes; the paper states no count. The release
# also builds an unused 32 x 256 text-position table (+8,704), left out here.
RELEASE_PARAMS = 7_775_778


def _config(loss: dict | None = None, **model_updates) -> ExperimentConfig:
    base = get_preset("taskweave-tiny").model_dump()
    base["model"].update(model_updates)
    base["loss"].update(loss or {})
    return ExperimentConfig.model_validate(base)


# --- converters (Sec. 3.3) ------------------------------------------------------------
def test_moment_to_mask_sums_binary_moment_vectors_and_l2_normalises() -> None:
    video_mask = torch.tensor([[True] * 5 + [False] * 3])  # 5 valid clips, 3 padded
    # (start, end) in [0, 1] of the 5 valid clips: clips 0-1, clips 1-3, clip 4
    spans_xx = torch.tensor([[[0.0, 0.4], [0.2, 0.8], [0.8, 1.0]]])
    spans = span_xx_to_cxw(spans_xx)
    binary = torch.tensor([[1, 1, 0, 0, 0], [0, 1, 1, 1, 0], [0, 0, 0, 0, 1]], dtype=torch.float)
    summed = binary.sum(0)  # [1, 2, 1, 1, 1]
    expected = torch.cat([summed / summed.norm(), torch.zeros(3)])
    mask = moment_to_mask(spans, video_mask)
    assert torch.allclose(mask[0], expected, atol=1e-6)
    assert torch.allclose(mask.norm(dim=1), torch.ones(1))
    assert not moment_to_mask(spans.requires_grad_(), video_mask).requires_grad


def test_highlightness_to_mask_binarises_at_the_mean_of_valid_scores() -> None:
    scores = torch.tensor([[0.1, 2.0, -1.0, 0.3, 1.0, 99.0], [5.0, 5.0, 5.0, 5.0, 0.0, 0.0]])
    video_mask = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]]).bool()
    mask = highlightness_to_mask(scores, video_mask)  # means: 0.48 (padding ignored) and 5
    assert mask.tolist() == [[0, 1, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0]]  # equal to the mean -> 0


# --- joint loss (Eq. 9) ----------------------------------------------------------------
def test_uncertainty_weighted_loss_formula_and_optimum() -> None:
    loss_mr, loss_hd = torch.tensor(3.0), torch.tensor(0.5)
    g_mr, g_hd = torch.tensor(0.4, requires_grad=True), torch.tensor(-0.2, requires_grad=True)
    total = uncertainty_weighted_loss(loss_mr, loss_hd, g_mr, g_hd)
    expected = math.exp(-0.4) * 3.0 + 2 * math.exp(0.2) * 0.5 + 0.4 - 0.2
    assert total.item() == pytest.approx(expected, rel=1e-6)
    total.backward()
    assert g_mr.grad.item() == pytest.approx(1 - math.exp(-0.4) * 3.0, rel=1e-5)
    # each gamma settles where it balances its task: gamma_mr* = log L_mr, gamma_hd* = log 2 L_hd
    joint = lambda g_mr, g_hd: uncertainty_weighted_loss(loss_mr, loss_hd, g_mr, g_hd)  # noqa: E731
    grads = torch.autograd.functional.jacobian(joint, (torch.log(loss_mr), torch.log(2 * loss_hd)))
    assert all(abs(g.item()) < 1e-6 for g in grads)
    hd_only = uncertainty_weighted_loss(None, loss_hd, g_mr, g_hd)  # no MR terms: no gamma_mr
    assert hd_only.item() == pytest.approx(2 * math.exp(0.2) * 0.5 - 0.2)


def test_criterion_total_is_the_joint_loss_of_its_terms(make_batch, make_targets) -> None:
    cfg = _config(dec_layers=2)
    model, criterion, _ = build_model(cfg)
    with torch.no_grad():
        model.log_var_mr.fill_(0.3)
        model.log_var_hd.fill_(-0.5)
    out = model(**make_batch(cfg, [8, 6], [3, 2]))
    losses = criterion(out, make_targets([8, 6]))
    mr_names = {"loss_span", "loss_giou", "loss_label", "loss_span_0", "loss_giou_0", "loss_label_0"}
    hd_names = {"loss_saliency_margin", "loss_rank_contrastive", "loss_neg_pair"}
    assert set(losses) == mr_names | hd_names | {"total"}
    # L(theta_mr) = L1 + gIoU + CE and the HD terms enter unweighted
    assert all(criterion.weight_dict[k] == 1.0 for k in mr_names | hd_names)
    loss_mr, loss_hd = sum(losses[k] for k in mr_names), sum(losses[k] for k in hd_names)
    expected = math.exp(-0.3) * loss_mr + 2 * math.exp(0.5) * loss_hd + 0.3 - 0.5
    assert torch.allclose(losses["total"], expected)
    losses["total"].backward()
    assert model.log_var_mr.grad != 0 and model.log_var_hd.grad != 0
    # "Sum" ablation: the plain sum of the terms
    off = build_model(_config(loss={"uncertainty_weighting": False}))[1]
    plain = off(out, make_targets([8, 6]))
    assert torch.allclose(plain["total"], sum(v for k, v in plain.items() if k != "total"))


def test_without_moment_terms_gamma_mr_is_left_alone(make_batch, make_targets) -> None:
    cfg = _config(loss={"moment_losses": False})
    model, criterion, _ = build_model(cfg)
    targets = make_targets([8, 6])
    del targets["span_labels"]  # TVSum: saliency only
    criterion(model(**make_batch(cfg, [8, 6], [3, 2])), targets)["total"].backward()
    assert model.log_var_mr.grad is None and model.log_var_hd.grad != 0


# --- Eq. 1, Eq. 2 and the feedback wiring ---------------------------------------------
def _capture(model: TaskWeave, batch: dict, **kwargs) -> tuple[dict, dict]:
    seen: dict = {"hd_inputs": [], "mr_memories": []}

    def keep_first_unit(module, args, output) -> None:  # the negative pass calls it again
        seen.setdefault("unit", (args[0], output))

    hooks = [
        model.decoupled.register_forward_hook(keep_first_unit),
        model.highlight_decoder.register_forward_pre_hook(lambda m, a: seen["hd_inputs"].append(a[0])),
        model.decoder.register_forward_pre_hook(lambda m, a: seen["mr_memories"].append(a[0])),
    ]
    with torch.no_grad():
        out = model(**batch, **kwargs)
    for hook in hooks:
        hook.remove()
    return out, seen


def test_decoupled_unit_and_hd_decoder_follow_eqs_1_and_2(make_batch) -> None:
    cfg = _config(feedback="none")
    model, _, _ = build_model(cfg)
    model.eval()
    out, seen = _capture(model, make_batch(cfg, [7, 5], [3, 2], seed=1))
    (joint, (x_mr, x_hd)), mask = seen["unit"], out["video_mask"]
    unit, pos = model.decoupled, sine_positions(mask, cfg.model.hidden_dim)
    with torch.no_grad():
        m_mr, m_hd = unit.mr_mapper(joint), unit.hd_mapper(joint)  # M_mr(Z), M_hd(Z)
        s_mr, s_hd = unit.shared_expert(m_mr, mask, pos), unit.shared_expert(m_hd, mask, pos)
        assert torch.allclose(x_mr, unit.mr_expert(m_mr, mask, pos) * s_mr, atol=1e-6)  # CNN P_mr
        assert torch.allclose(x_hd, m_hd * s_hd, atol=1e-6)  # identity P_hd
        dec = model.highlight_decoder
        d_hd = dec.out(dec.conv(dec.linear(x_hd).transpose(1, 2)).transpose(1, 2)).squeeze(-1)
        expected = d_hd + x_hd.sum(-1) / math.sqrt(cfg.model.hidden_dim)  # Eq. 2
    assert torch.allclose(out["saliency_scores"][mask], expected[mask], atol=1e-5)


def test_moment_guided_feedback_masks_the_hd_input(make_batch) -> None:
    cfg = _config(feedback="moment", dec_layers=2)
    model, _, _ = build_model(cfg)
    model.eval()
    out, seen = _capture(model, make_batch(cfg, [9, 6], [3, 2], seed=2), negatives=False)
    x_hd, mask = seen["unit"][1][1], out["video_mask"]
    xi = moment_to_mask(out["pred_spans"], mask)  # M2M of the (final) moment predictions
    assert torch.allclose(out["feedback_mask_hd"], xi)
    tentative, guided = seen["hd_inputs"]
    assert torch.equal(tentative, x_hd)
    assert torch.allclose(guided, x_hd + x_hd * xi.unsqueeze(-1))  # J = X_hd + X_hd * xi_m2m
    assert len(seen["mr_memories"]) == 1 and "feedback_mask_mr" not in out


def test_highlightness_guided_feedback_masks_the_mr_input(make_batch) -> None:
    cfg = _config(feedback="highlight")
    model, _, _ = build_model(cfg)
    model.eval()
    out, seen = _capture(model, make_batch(cfg, [9, 6], [3, 2], seed=3), negatives=False)
    x_mr, mask = seen["unit"][1][0], out["video_mask"]
    xi = highlightness_to_mask(out["saliency_scores"], mask)  # H2M of the saliency
    assert torch.allclose(out["feedback_mask_mr"], xi)
    (memory,) = seen["mr_memories"]
    assert torch.allclose(memory, x_mr + x_mr * xi.unsqueeze(-1))  # X_mr + X_mr * xi_h2m
    assert "feedback_mask_hd" not in out


def test_feedback_waits_for_its_start_epoch(make_batch) -> None:
    cfg = _config(feedback="both", feedback_start_epoch=3)
    model, _, _ = build_model(cfg)
    model.eval()
    batch = make_batch(cfg, [9, 6], [3, 2], seed=4)
    plain = build_model(_config(feedback="none"))[0].eval()
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        early, late, reference = model(**batch, epoch=2), model(**batch, epoch=3), plain(**batch)
    assert "feedback_mask_mr" not in early and {"feedback_mask_mr", "feedback_mask_hd"} <= set(late)
    assert torch.equal(early["pred_spans"], reference["pred_spans"])
    assert torch.equal(early["saliency_scores"], reference["saliency_scores"])
    assert "feedback_mask_hd" in model(**batch)  # no epoch (inference): feedback on


def test_negative_pass_scores_clips_against_the_next_query(make_batch) -> None:
    cfg = _config(feedback="none")
    model, _, _ = build_model(cfg)
    model.eval()
    batch = make_batch(cfg, [6, 9], [4, 2], seed=5)
    swapped = {  # video 0 with query 1, alone
        "src_vid": batch["src_vid"][:1, :6], "src_vid_mask": batch["src_vid_mask"][:1, :6],
        "src_txt": batch["src_txt"][1:, :2], "src_txt_mask": batch["src_txt_mask"][1:, :2],
    }  # fmt: skip
    with torch.no_grad():
        neg, expected = model(**batch)["saliency_scores_neg"], model(**swapped)["saliency_scores"]
    assert torch.allclose(neg[0, :6], expected[0], atol=1e-5)


# --- whole model ----------------------------------------------------------------------
@pytest.mark.parametrize("feedback", ["moment", "both"])
def test_padding_changes_nothing(feedback: str, make_batch) -> None:
    cfg = _config(feedback=feedback, dec_layers=2)
    model, _, _ = build_model(cfg)
    model.eval()
    alone = make_batch(cfg, [7], [3], seed=1)
    batch = make_batch(cfg, [7, 12], [3, 6], seed=2, pad_value=50.0)
    for key, value in alone.items():
        batch[key][0, : value.shape[1]] = value[0]
    with torch.no_grad():
        a, p = model(**alone), model(**batch)
    assert torch.allclose(p["pred_logits"][:1], a["pred_logits"], atol=1e-5)
    assert torch.allclose(p["pred_spans"][:1], a["pred_spans"], atol=1e-5)
    for key in ("saliency_scores", "feedback_mask_hd"):
        assert torch.allclose(p[key][:1, :7], a[key], atol=1e-5), key
    aux_padded, aux_alone = p["aux_outputs"][0]["pred_spans"], a["aux_outputs"][0]["pred_spans"]
    assert torch.allclose(aux_padded[:1], aux_alone, atol=1e-5)


# Layer 0 of the decoder runs self-attention on an all-zero target (as in DAB-DETR).
ZERO_INPUT = {f"decoder.layers.0.{n}.weight" for n in ("sa_q_content", "sa_k_content", "sa_value")}


@pytest.mark.parametrize(
    "updates",
    [{"feedback": "both"}, {"mr_expert": "transformer", "hd_expert": "linear", "feedback": "highlight"}],
)
def test_gradients_reach_every_learnable_parameter(updates, make_batch, make_targets) -> None:
    cfg = _config(dec_layers=2, **updates)
    model, criterion, _ = build_model(cfg)
    out = model(**make_batch(cfg, [10, 8, 6], [4, 3, 2], seed=6))
    criterion(out, make_targets([10, 8, 6], seed=6))["total"].backward()
    missing = [
        name for name, p in model.named_parameters()
        if name not in ZERO_INPUT and (p.grad is None or not p.grad.abs().sum() > 0)
    ]  # fmt: skip
    assert not missing, missing


def test_tiny_model_overfits_a_planted_moment(overfit_planted) -> None:
    # both feedbacks on; the MR terms are unweighted (L1 + gIoU + CE), so MR needs more
    # steps than VideoLights' 160 (L1 weight 10)
    cfg = _config(feedback="both", dec_layers=2, input_dropout=0.1)
    start, end, ious = overfit_planted(cfg, steps=240, lr_drop=180)
    assert end < 0.3 * start, (start, end)
    assert min(ious) > 0.7, ious


def test_checkpoint_round_trip(tmp_path, make_batch) -> None:
    cfg = _config(feedback="both")
    model, _, _ = build_model(cfg)
    with torch.no_grad():
        model.log_var_hd.fill_(0.7)
    model.eval()
    torch.save(make_checkpoint(model, cfg), tmp_path / "taskweave.pt")
    checkpoint = torch.load(tmp_path / "taskweave.pt", weights_only=True)
    loaded, _, _, loaded_cfg = build_from_checkpoint(checkpoint)
    loaded.eval()
    assert isinstance(loaded, TaskWeave) and loaded_cfg == cfg
    assert loaded.log_var_hd.item() == pytest.approx(0.7)
    batch = make_batch(cfg, [6, 4], [3, 3])
    with torch.no_grad():
        a, b = model(**batch), loaded(**batch)
    for key in ("pred_spans", "saliency_scores", "saliency_scores_neg"):
        assert torch.equal(a[key], b[key]), key


# --- presets --------------------------------------------------------------------------
def test_presets_follow_the_paper() -> None:
    qv = get_preset("taskweave-qvhighlights")
    m, loss = qv.model, qv.loss
    assert (m.name, m.hidden_dim, m.num_heads, m.dropout) == ("taskweave", 256, 8, 0.1)
    assert (m.num_queries, m.fusion_layers, m.projection) == (10, 2, "linear")
    assert (m.mr_expert, m.hd_expert, m.temporal_kernel, m.enc_layers) == ("cnn", "identity", 5, 2)
    assert (m.feedback, m.feedback_start_epoch) == ("moment", 100)
    assert get_preset("taskweave-hgf-qvhighlights").model.feedback == "highlight"
    assert loss.uncertainty_weighting and (loss.saliency_margin, loss.neg_pair_weight) == (0.2, 1.0)
    train = qv.train
    assert (train.epochs, train.batch_size, train.lr, train.weight_decay) == (200, 32, 1e-4, 1e-4)
    ch, tv = get_preset("taskweave-charades_sta").train, get_preset("taskweave-tvsum")
    assert (ch.epochs, ch.batch_size, ch.lr) == (100, 32, 1e-4)
    assert (tv.train.epochs, tv.train.batch_size, tv.train.lr) == (2000, 2, 1e-4)
    assert not tv.loss.moment_losses
    for name in ("taskweave-charades_sta", "taskweave-tvsum", "taskweave-tiny"):
        build_model(get_preset(name))


def test_parameter_count_matches_the_release() -> None:
    model, _, _ = build_model(get_preset("taskweave-qvhighlights"))
    assert count_parameters(model) == pytest.approx(RELEASE_PARAMS, rel=0.002)
    assert f"parameters: {count_parameters(model)}" in describe_preset("taskweave-qvhighlights")


def test_model_specific_losses_need_their_model() -> None:
    with pytest.raises(ValueError, match="taskweave"):
        ExperimentConfig.model_validate({"loss": {"uncertainty_weighting": True}, "features": None})
    with pytest.raises(ValueError, match="trdetr"):
        ExperimentConfig.model_validate({"loss": {"global_regulator_weight": 0.3}, "features": None})
