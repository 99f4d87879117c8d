"""BLIP-2 Q-Former extractor and text encoder on a tiny Blip2ForImageTextRetrieval; save_pretrained round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pipeline.extractors import MissingWeightsError
from pipeline.extractors.blip2 import (
    Blip2Extractor,
    Blip2TextEncoder,
    blip_caption_text,
    build_tiny_blip2,
    weights_path,
)


@pytest.fixture(scope="module")
def ext():
    return Blip2Extractor.tiny(seed=0)


@pytest.fixture(scope="module")
def text():
    return Blip2TextEncoder.tiny(seed=0)


def test_sixteen_clips_give_one_row_each(ext, make_clips):
    feats = ext.encode_video(make_clips(16, 1, 224, 398), batch_size=16)
    assert feats.shape == (16, 32) and feats.dtype == np.float32
    assert np.isfinite(feats).all() and feats.std() > 0
    x = ext.preprocess_clip(make_clips(1, 1, 224, 224)[0])
    assert x.shape == (3, 224, 224) and x.dtype == torch.uint8  # the crop, uint8
    assert ext.prepare_batch(x[None]).shape == (1, 3, 30, 30)  # the tiny vision input, made on the device


def test_same_seed_same_features_other_seed_other_features(ext, make_clips):
    clips = make_clips(4, 1, 224, 224)
    again = Blip2Extractor.tiny(seed=0).encode_video(clips)
    np.testing.assert_array_equal(ext.encode_video(clips), again)
    assert not np.allclose(Blip2Extractor.tiny(seed=1).encode_video(clips), again)


def test_batch_size_does_not_change_features(ext, make_clips):
    clips = make_clips(16, 1, 224, 224, seed=3)
    np.testing.assert_allclose(ext.encode_video(clips, batch_size=1), ext.encode_video(clips, batch_size=16), atol=1e-5)


def test_video_feature_is_the_first_query_output_of_the_retrieval_model(ext, make_clips):
    """HF's own contrastive path projects all 32 query outputs; ours is the first one, unprojected."""
    batch = torch.stack([ext.preprocess_clip(c) for c in make_clips(2, 1, 224, 224)])
    ids = ext.tokenizer(["a cat"], return_tensors="pt")
    with torch.inference_mode():
        pixels = ext.prepare_batch(batch)
        out = ext.model(pixel_values=pixels, input_ids=ids["input_ids"], attention_mask=ids["attention_mask"])
        ours = F.normalize(ext.model.vision_projection(ext.encode_batch(batch)), dim=-1)
    assert out.image_embeds.shape == (2, 32, 16)
    torch.testing.assert_close(ours, out.image_embeds[:, 0], atol=1e-5, rtol=1e-5)


def test_text_tokens_are_all_valid_tokens_and_match_the_models_text_path(ext, text):
    queries = ["A man talks about his trip!", "dog", "cooking pasta in a small kitchen, then eating it"]
    feats = text.encode_text(queries)
    for q, f in zip(queries, feats):
        n = len(text.tokenizer(blip_caption_text(q))["input_ids"])  # [CLS] ... [SEP]
        assert f.tokens.shape == (n, 32) and f.tokens.dtype == np.float32
        np.testing.assert_array_equal(f.pooled, f.tokens[0])
    enc = text.tokenizer([blip_caption_text(queries[1])], return_tensors="pt")
    pixels = torch.zeros(1, 3, 30, 30)
    with torch.inference_mode():
        out = ext.model(pixel_values=pixels, input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        ours = F.normalize(ext.model.text_projection(torch.from_numpy(feats[1].pooled)[None]), dim=-1)
    torch.testing.assert_close(ours, out.text_embeds, atol=1e-5, rtol=1e-5)


def test_text_batching_and_padding_do_not_change_features(text):
    queries = ["short", "a much longer query about cooking pasta in a kitchen", "", "two people dance"]
    for a, b in zip(text.encode_text(queries, batch_size=1), text.encode_text(queries, batch_size=64)):
        np.testing.assert_allclose(a.tokens, b.tokens, atol=1e-5)


def test_queries_get_lavis_caption_processing(text):
    assert blip_caption_text("Hello,  WORLD. (again)") == "hello, world again"
    a, b = text.encode_text(["A dog: runs!", "a dog runs"])
    np.testing.assert_array_equal(a.tokens, b.tokens)


def test_save_then_load_through_from_pretrained_is_identical(ext, text, tmp_path, make_clips):
    path = ext.save_pretrained(tmp_path)
    assert path == tmp_path / "transformers" / "tiny-blip2"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in path.iterdir()}
    loaded = Blip2Extractor.from_pretrained(tmp_path, preset="tiny")
    assert loaded.preset == "tiny" and loaded.weights_id.startswith("tiny:transformers:tiny-blip2@sha256:")
    clips = make_clips(3, 1, 224, 224)
    np.testing.assert_array_equal(loaded.encode_video(clips), ext.encode_video(clips))
    loaded_text = Blip2TextEncoder.from_pretrained(tmp_path, preset="tiny")
    queries = ["a cat sleeps", "two dogs"]
    for a, b in zip(loaded_text.encode_text(queries), text.encode_text(queries)):
        np.testing.assert_array_equal(a.tokens, b.tokens)


def test_missing_weights_and_tokenizer_are_explained(tmp_path, empty_caches):
    with pytest.raises(MissingWeightsError) as err:
        Blip2Extractor.from_pretrained(tmp_path)
    assert str(tmp_path / "transformers" / "Salesforce" / "blip2-itm-vit-g") in str(err.value)
    assert "huggingface-cli download Salesforce/blip2-itm-vit-g" in str(err.value)
    with pytest.raises(MissingWeightsError, match="not in the Hugging Face cache"):
        Blip2TextEncoder.from_pretrained(None)
    model, _ = build_tiny_blip2()
    model.save_pretrained(tmp_path / "transformers" / "tiny-blip2")  # weights without a tokenizer
    with pytest.raises(MissingWeightsError, match="tokenizer"):
        Blip2TextEncoder.from_pretrained(tmp_path, preset="tiny")


def test_paper_weights_are_found_in_the_hf_cache(empty_caches):
    repo = empty_caches["hf"] / "models--Salesforce--blip2-itm-vit-g"
    snapshot = repo / "snapshots" / "c0ffee"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("c0ffee")
    assert weights_path("paper", None) == snapshot
