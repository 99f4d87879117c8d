"""SlowFast extractor on a tiny pytorchvideo SlowFast; frame selection, pooling, checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.extractors import MissingWeightsError
from pipeline.extractors.slowfast import (
    MEAN,
    STD,
    SlowFastExtractor,
    build_slowfast,
    slowfast_frame_indices,
    weights_file,
)


@pytest.fixture(scope="module")
def ext():
    # crop 32 = the tiny input size, so tests can hand over 32-px frames and skip the 224 -> 32 resize
    return SlowFastExtractor.tiny(seed=0, crop_size=32)


def numbered_frames(n: int, size: int = 32) -> np.ndarray:
    """n constant frames whose pixel value is the frame number."""
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, size, size + 8, 3)).copy()


def frame_numbers(x: torch.Tensor) -> list[int]:
    """Undo the normalisation of a [3, T, S, S] pathway and read each frame's number."""
    pixels = x[0, :, 0, 0] * STD[0] + MEAN[0]
    return [round(v) for v in (pixels * 255).tolist()]


def test_sixteen_clips_give_one_row_each(ext, make_clips):
    feats = ext.encode_video(make_clips(16, 60, 32, 40), batch_size=16)
    assert feats.shape == (16, 288) and feats.dtype == np.float32
    assert np.isfinite(feats).all() and feats.std() > 0


def test_same_seed_same_features_other_seed_other_features(ext, make_clips):
    clips = make_clips(3, 60, 32, 32)
    again = SlowFastExtractor.tiny(seed=0, crop_size=32).encode_video(clips)
    np.testing.assert_array_equal(ext.encode_video(clips), again)
    assert not np.allclose(SlowFastExtractor.tiny(seed=1, crop_size=32).encode_video(clips), again)


def test_batch_size_does_not_change_features(ext, make_clips):
    clips = make_clips(16, 60, 32, 32, seed=2)
    np.testing.assert_allclose(ext.encode_video(clips, batch_size=1), ext.encode_video(clips, batch_size=16), atol=1e-5)


def test_32_of_60_frames_uniformly_and_slow_as_pytorchvideo_packs_it():
    fast, slow = slowfast_frame_indices(60)
    assert len(fast) == 32 and fast[0] == 0 and fast[-1] == 59
    assert np.all(np.diff(fast) >= 1) and np.all(np.diff(fast) <= 2)  # evenly spread, no repeats
    assert slow.tolist() == fast[[0, 4, 8, 13, 17, 22, 26, 31]].tolist()  # linspace(0, 31, 8), truncated


def test_the_delivered_fast_pathway_is_taken_whole(ext):
    fast, slow = ext.frame_indices(32)  # what the decoder delivers for ReferenceSlowFast
    assert fast.tolist() == list(range(32)) and slow.tolist() == [0, 4, 8, 13, 17, 22, 26, 31]


def test_short_clips_are_padded_with_their_last_frame():
    fast, _ = slowfast_frame_indices(45)  # the video's last clip: 1.5 s of 2
    assert fast.max() == 44 and fast[0] == 0
    assert np.sum(fast == 44) > 1  # the padding repeats the last frame
    assert slowfast_frame_indices(1)[0].tolist() == [0] * 32


def test_the_network_sees_exactly_those_frames(ext):
    x = ext.preprocess_clip(numbered_frames(60))
    assert x.shape == (32, 32, 32, 3) and x.dtype == torch.uint8  # frames first, channels last, as decoded
    fast, slow = slowfast_frame_indices(60)
    assert x[:, 0, 0, 0].tolist() == fast.tolist()
    with torch.inference_mode():
        pixels = ext.prepare_batch(x[None])
    assert pixels.shape == (1, 3, 32, 32, 32) and pixels.dtype == torch.float32
    assert frame_numbers(pixels[0]) == fast.tolist()
    slow_x, fast_x = ext.pathways(pixels)
    assert slow_x.shape == (1, 3, 8, 32, 32)
    assert frame_numbers(slow_x[0]) == slow.tolist() and torch.equal(fast_x, pixels)


def test_paper_crop_of_224_frames(make_clips):
    """Default crop 224: frames decoded at short side 224 are centre-cropped, then fed at the model's size."""
    tiny = SlowFastExtractor.tiny(seed=0)
    assert tiny.crop_size == 224 and tiny.clip_frames == 60
    (frames,) = make_clips(1, 60, 224, 398)
    x = tiny.preprocess_clip(frames)
    assert x.shape == (32, 224, 224, 3) and x.dtype == torch.uint8
    assert tiny.prepare_batch(x[None]).shape == (1, 3, 32, 32, 32)  # resized to the tiny input on the device


def test_features_are_pooled_slow_then_fast_before_the_head_projection(ext, make_clips):
    x = torch.stack([ext.preprocess_clip(c) for c in make_clips(2, 60, 32, 32)])
    seen = {}
    stages = ext.model.blocks[4].register_forward_hook(lambda m, i, o: seen.setdefault("stages", [t.clone() for t in o]))
    head = ext.model.blocks[-1].proj.register_forward_pre_hook(lambda m, i: seen.setdefault("head_in", i[0].clone()))
    try:
        with torch.inference_mode():
            ext.model(ext.pathways(ext.prepare_batch(x)))  # the whole network, classifier included
    finally:
        stages.remove()
        head.remove()
    feats = ext.encode_batch(x)
    slow, fast = (t.mean(dim=(2, 3, 4)) for t in seen["stages"])
    assert slow.shape[1] == 256 and fast.shape[1] == 32
    torch.testing.assert_close(feats, torch.cat([slow, fast], dim=1))
    torch.testing.assert_close(feats, seen["head_in"].reshape(2, -1))


def test_save_then_load_through_from_pretrained_is_identical(ext, tmp_path, make_clips):
    path = ext.save_pretrained(tmp_path)
    assert path == tmp_path / "pytorchvideo" / "tiny-slowfast.pyth"
    assert set(torch.load(path, weights_only=True)) == {"model_state"}  # pytorchvideo's checkpoint layout
    loaded = SlowFastExtractor.from_pretrained(tmp_path, preset="tiny", crop_size=32)
    assert loaded.preset == "tiny" and loaded.weights_id.startswith("tiny:pytorchvideo:tiny@sha256:")
    clips = make_clips(3, 60, 32, 32)
    np.testing.assert_array_equal(loaded.encode_video(clips), ext.encode_video(clips))


def test_missing_or_malformed_checkpoints_are_explained(tmp_path, empty_caches):
    with pytest.raises(MissingWeightsError) as err:
        SlowFastExtractor.from_pretrained(tmp_path)
    assert str(tmp_path / "pytorchvideo" / "SLOWFAST_8x8_R50.pyth") in str(err.value)
    assert "dl.fbaipublicfiles.com" in str(err.value)
    with pytest.raises(MissingWeightsError, match="torch hub cache"):
        SlowFastExtractor.from_pretrained(None)
    bad = tmp_path / "pytorchvideo" / "tiny-slowfast.pyth"
    bad.parent.mkdir()
    torch.save({"state_dict": {}}, bad)
    with pytest.raises(ValueError, match="expected a pytorchvideo checkpoint dict with key 'model_state'"):
        SlowFastExtractor.from_pretrained(tmp_path, preset="tiny")


def test_paper_checkpoint_is_found_in_the_torch_hub_cache(empty_caches):
    cached = empty_caches["torch_hub"] / "checkpoints" / "SLOWFAST_8x8_R50.pyth"
    cached.parent.mkdir()
    cached.write_bytes(b"not read here")
    assert weights_file("paper", None) == cached


@pytest.mark.slow
def test_paper_architecture_gives_2304_features():
    model = build_slowfast("paper")
    ext = SlowFastExtractor(model, preset="paper", weights_id="test:random")
    assert ext.dim == 2304 and ext.input_size == 224
    x = torch.zeros(1, 32, 224, 224, 3, dtype=torch.uint8)  # one preprocess_clip output
    assert ext.encode_batch(x).shape == (1, 2304)
