"""CLIP extractor and text encoder on tiny open_clip models; weights saved and loaded for real."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from pipeline.extractors import MissingWeightsError
from pipeline.extractors.clip import (
    PRESETS,
    ClipExtractor,
    ClipTextEncoder,
    build_open_clip,
    load_open_clip,
    reference_token_ids,
    weights_file,
)
from pipeline.extractors.frames import CLIP_MEAN, CLIP_STD

LONG_QUERY = " ".join(["a person walks the dog along a beach"] * 6)  # > 32 tokens


@pytest.fixture(scope="module")
def ext():
    return ClipExtractor.tiny(seed=0)


@pytest.fixture(scope="module")
def text():
    return ClipTextEncoder.tiny(seed=0)


def test_sixteen_clips_give_one_row_each(ext, make_clips):
    feats = ext.encode_video(make_clips(16, 1, 224, 398), batch_size=16)
    assert feats.shape == (16, 32) and feats.dtype == np.float32
    assert np.isfinite(feats).all() and feats.std() > 0


def test_same_seed_same_features_other_seed_other_features(ext, make_clips):
    clips = make_clips(4, 1, 224, 224)
    again = ClipExtractor.tiny(seed=0).encode_video(clips)
    np.testing.assert_array_equal(ext.encode_video(clips), again)
    assert not np.allclose(ClipExtractor.tiny(seed=1).encode_video(clips), again)


def test_batch_size_does_not_change_features(ext, make_clips):
    clips = make_clips(16, 1, 224, 300, seed=1)
    np.testing.assert_allclose(ext.encode_video(clips, batch_size=1), ext.encode_video(clips, batch_size=16), atol=1e-5)


def test_preprocess_is_the_uint8_centre_crop_and_the_model_sees_normalised_pixels(ext, make_clips, old_float_preprocess):
    (frames,) = make_clips(1, 1, 224, 398)
    x = ext.preprocess_clip(frames)
    assert x.shape == (3, 224, 224) and x.dtype == torch.uint8  # the crop; resized to the tiny 32-px input on the device
    assert torch.equal(x, torch.from_numpy(frames[0, :, 87:311]).permute(2, 0, 1))
    with torch.inference_mode():
        pixels = ext.prepare_batch(x[None])
    assert pixels.shape == (1, 3, 32, 32) and pixels.dtype == torch.float32
    torch.testing.assert_close(pixels, old_float_preprocess(frames, 224, 32, CLIP_MEAN, CLIP_STD), atol=1e-5, rtol=1e-5)
    assert torch.equal(ext.encode_batch(x[None]), ext.model.encode_image(pixels).detach())


def test_more_than_one_frame_per_clip_is_refused(ext, make_clips):
    with pytest.raises(ValueError, match="expected 1 frame"):
        ext.preprocess_clip(make_clips(1, 2, 224, 224)[0])


def test_text_tokens_are_the_valid_tokens_and_pooled_is_the_projected_eot(text):
    queries = ["a dog runs on the beach.", "hi!;)", LONG_QUERY]
    feats = text.encode_text(queries)
    ids = reference_token_ids(text.tokenizer, queries)  # the references' ids: the EOT always kept
    n_valid = (ids != 0).sum(dim=-1).tolist()
    assert n_valid[1] == 4 and int((ids[1] == 49407).nonzero()[0, 0]) == 4  # "!" before ";)" is id 0
    for f, n, i in zip(feats, n_valid, range(3)):
        assert f.tokens.shape == (n, 32) and f.tokens.dtype == np.float32
        assert f.pooled.shape == (32,)
        np.testing.assert_allclose(f.pooled, text.model.encode_text(ids[i:i + 1])[0].detach().numpy(), atol=1e-5)
    eot = feats[0].tokens[-1]  # the last kept token of a short query is EOT, after ln_final
    np.testing.assert_allclose(eot @ text.model.text_projection.detach().numpy(), feats[0].pooled, atol=1e-5)
    assert feats[2].tokens.shape[0] == 32 and ids[2, 31] == 49407  # SOT + 30 BPE + EOT


def test_text_batching_does_not_change_features(text):
    queries = ["short", "a much longer query about cooking pasta in a kitchen", "", "two people dance"]
    one = text.encode_text(queries, batch_size=1)
    many = text.encode_text(queries, batch_size=64)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a.tokens, b.tokens, atol=1e-5)
        np.testing.assert_allclose(a.pooled, b.pooled, atol=1e-5)


def test_text_refuses_a_bare_string(text):
    with pytest.raises(TypeError, match="list of query strings"):
        text.encode_text("a dog")


def test_save_then_load_through_from_pretrained_is_identical(ext, text, tmp_path, make_clips):
    path = ext.save_pretrained(tmp_path)
    assert path == tmp_path / "open_clip" / "tiny-clip.pt"
    assert isinstance(torch.load(path, weights_only=True), dict)  # an open_clip state dict
    loaded = ClipExtractor.from_pretrained(tmp_path, preset="tiny")
    assert loaded.preset == "tiny" and loaded.weights_id.startswith("tiny:open_clip:tiny@sha256:")
    clips = make_clips(5, 1, 224, 224)
    np.testing.assert_array_equal(loaded.encode_video(clips), ext.encode_video(clips))
    loaded_text = ClipTextEncoder.from_pretrained(tmp_path, preset="tiny")
    assert loaded_text.weights_id == loaded.weights_id
    for a, b in zip(loaded_text.encode_text(["a cat"]), text.encode_text(["a cat"])):
        np.testing.assert_array_equal(a.tokens, b.tokens)
        np.testing.assert_array_equal(a.pooled, b.pooled)


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_openai_torchscript_archives_load_too(ext, tmp_path):
    """OpenAI's ViT-B-32.pt is a TorchScript archive; a scripted tiny model stands in for it."""
    path = tmp_path / "open_clip" / "tiny-clip.pt"
    path.parent.mkdir()
    torch.jit.save(torch.jit.script(copy.deepcopy(ext.model)), str(path))
    model, weights_id = load_open_clip("tiny", tmp_path)
    for (k, a), b in zip(model.state_dict().items(), ext.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert weights_id.startswith("tiny:")


def test_missing_paper_weights_say_which_file_and_how(tmp_path, empty_caches):
    with pytest.raises(MissingWeightsError) as err:
        ClipExtractor.from_pretrained(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "open_clip" / "ViT-B-32-openai.pt") in msg and "openaipublic" in msg
    with pytest.raises(MissingWeightsError, match="Hugging Face cache"):
        ClipTextEncoder.from_pretrained(None)


def test_paper_weights_are_found_in_the_hf_cache(empty_caches):
    snapshot = empty_caches["hf"] / "models--timm--vit_base_patch32_clip_224.openai" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"not read here")
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    assert weights_file("paper", None) == snapshot / "open_clip_model.safetensors"


@pytest.mark.slow
def test_paper_architecture_is_vit_b32_with_quickgelu():
    model = build_open_clip("paper")
    assert model.visual.output_dim == 512 and model.transformer.width == 512 and model.visual.image_size == (224, 224)
    assert PRESETS["paper"].model_cfg["quick_gelu"] is True
