"""The BLIP-2 OPT captioner and the caption-frame scorer: tiny real architectures, loading, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.extractors import MissingWeightsError
from pipeline.extractors.captioner import (
    Blip2Captioner,
    GenerationSettings,
    build_tiny_captioner,
    caption_weights_path,
    frames_to_pixels,
    paper_caption_config,
)
from pipeline.synthetic.scorer import CaptionFrameScorer


def _frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (224, 300, 3), dtype=np.uint8) for _ in range(n)]


def _uniform(values) -> list[np.ndarray]:
    return [np.full((224, 224, 3), v, np.uint8) for v in values]


@pytest.fixture(scope="module")
def captioner() -> Blip2Captioner:
    return Blip2Captioner.tiny(seed=0)


def test_tiny_captions_are_deterministic_and_depend_on_the_image(captioner):
    frames = _uniform([0, 120, 240])
    first = captioner.caption(frames)  # default decoding: beam search, 5 beams, up to 30 tokens
    again = Blip2Captioner.tiny(seed=0).caption(frames)  # a second, separately built model
    assert first == again
    assert all(isinstance(c, str) for c in first) and len(first) == 3
    assert len(set(first)) > 1, "tiny captions should differ between differently coloured frames"
    short = GenerationSettings(max_new_tokens=10)
    assert Blip2Captioner.tiny(seed=1, settings=short).caption(frames) != Blip2Captioner.tiny(settings=short).caption(frames)


@pytest.mark.parametrize("beams", [1, 3])
def test_batched_generation_equals_one_by_one(beams):
    captioner = Blip2Captioner.tiny(settings=GenerationSettings(num_beams=beams, max_new_tokens=10))
    frames = _frames(3)
    assert captioner.caption(frames, batch_size=3) == [captioner.caption([f])[0] for f in frames]


def test_decoding_settings_are_recorded_and_bounded():
    greedy = Blip2Captioner.tiny(settings=GenerationSettings(num_beams=1, max_new_tokens=5))
    info = greedy.describe()
    assert info["generation"] == {"num_beams": 1, "max_new_tokens": 5, "min_new_tokens": 1,
                                  "repetition_penalty": 1.0, "length_penalty": 1.0}
    assert info["preset"] == "tiny" and info["weights_id"] == "tiny:seed0"
    assert GenerationSettings().generate_kwargs()["do_sample"] is False
    assert all(len(c.replace(" ", "")) <= 5 * 2 for c in greedy.caption(_frames(2)))
    with pytest.raises(ValueError, match="max_new_tokens"):
        Blip2Captioner.tiny(settings=GenerationSettings(max_new_tokens=500))


def test_save_pretrained_round_trips_through_the_loader(captioner, tmp_path):
    path = captioner.save_pretrained(tmp_path)
    assert path == caption_weights_path("tiny", tmp_path)
    loaded = Blip2Captioner.from_pretrained(tmp_path, preset="tiny")
    assert loaded.weights_id.startswith("tiny:transformers:tiny-blip2-opt@sha256:")
    frames = _frames(3, seed=5)
    assert loaded.caption(frames) == captioner.caption(frames)


def test_missing_paper_weights_are_explained(tmp_path, empty_hf_cache):
    with pytest.raises(MissingWeightsError) as err:
        Blip2Captioner.from_pretrained(tmp_path)
    assert str(tmp_path / "transformers" / "Salesforce" / "blip2-opt-2.7b" / "config.json") in str(err.value)
    assert "huggingface-cli download Salesforce/blip2-opt-2.7b" in str(err.value)
    with pytest.raises(MissingWeightsError, match="not in the Hugging Face cache"):
        Blip2Captioner.from_pretrained(None)
    model_dir = tmp_path / "transformers" / "tiny-blip2-opt"
    Blip2Captioner.tiny().model.save_pretrained(model_dir)  # weights without a tokenizer
    with pytest.raises(MissingWeightsError, match="tokenizer"):
        Blip2Captioner.from_pretrained(tmp_path, preset="tiny")
    with pytest.raises(MissingWeightsError, match="blip2-itm-vit-g"):
        CaptionFrameScorer.from_pretrained(tmp_path)


def test_paper_architecture_has_the_published_size():
    from transformers import Blip2ForConditionalGeneration

    with torch.device("meta"):
        model = Blip2ForConditionalGeneration(paper_caption_config())
    n = sum(p.numel() for p in model.parameters())
    assert 3.7e9 < n < 3.8e9  # Salesforce/blip2-opt-2.7b: 3.74 B parameters
    assert model.config.text_config.hidden_size == 2560 and model.config.vision_config.hidden_size == 1408


@pytest.mark.parametrize("method", ["itm", "itc"])
def test_scorer_matches_the_transformers_heads(method):
    scorer = CaptionFrameScorer.tiny(method)
    frames, captions = _frames(3), ["a man talks", "a dog runs on the grass", "x"]
    got = scorer.score(frames, captions, batch_size=2)
    enc = scorer.tokenizer(captions, padding=True, truncation=True, max_length=32, return_tensors="pt")
    pixels = frames_to_pixels(frames, 224, scorer.image_size, torch.device("cpu"))
    with torch.no_grad():
        out = scorer.model(pixel_values=pixels, input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                           use_image_text_matching_head=method == "itm")
    want = out.logits_per_image.softmax(-1)[:, 1] if method == "itm" else out.logits_per_image.diagonal()
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5)
    low, high = (0.0, 1.0) if method == "itm" else (-1.0, 1.0)
    assert got.dtype == np.float64 and np.all((got >= low) & (got <= high))
    with pytest.raises(ValueError, match="one caption per frame"):
        scorer.score(frames, captions[:2])


def test_half_precision_keeps_the_qformer_in_float32():
    model, tokenizer = build_tiny_captioner(0)
    bf16 = Blip2Captioner(model, tokenizer, preset="tiny", weights_id="tiny:seed0", dtype=torch.bfloat16,
                          settings=GenerationSettings(num_beams=1, max_new_tokens=6))
    assert bf16.model.query_tokens.dtype == torch.float32
    assert {p.dtype for p in bf16.model.qformer.parameters()} == {torch.float32}
    assert {p.dtype for p in bf16.model.language_model.parameters()} == {torch.bfloat16}
    captions = bf16.caption(_uniform([0, 128]))
    assert len(captions) == 2 and all(isinstance(c, str) for c in captions)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_scores_match_cpu_and_captions_run():
    frames, captions = _frames(4), ["a man talks", "a dog", "x", "two cats on a sofa"]
    cpu = CaptionFrameScorer.tiny("itm").score(frames, captions)
    gpu = CaptionFrameScorer.tiny("itm", device="cuda").score(frames, captions)
    np.testing.assert_allclose(gpu, cpu, atol=2e-2)
    captioner = Blip2Captioner.tiny(device="cuda", settings=GenerationSettings(num_beams=2, max_new_tokens=8))
    assert captioner.dtype in (torch.bfloat16, torch.float16) and len(captioner.caption(frames)) == 4
