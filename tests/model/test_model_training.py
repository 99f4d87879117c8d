"""The full tiny model overfits a fixed batch: loss drops and the top span finds the moment."""

from __future__ import annotations


def test_tiny_model_overfits_a_planted_moment(tiny_config, overfit_planted) -> None:
    # Two decoder layers, so the queries' self-attention can single out a winner (with one
    # layer the class head learns the fg/bg prior first and needs far more steps); light
    # input dropout and a final low-lr phase keep 160 CPU steps enough across seeds.
    start_loss, end_loss, end_ious = overfit_planted(tiny_config(dec_layers=2, input_dropout=0.1), steps=160,
                                                     lr_drop=120)
    assert end_loss < 0.3 * start_loss, (start_loss, end_loss)
    assert min(end_ious) > 0.7, end_ious
