"""Registry, shared frame helpers, input checks, the pytorchvideo import shim."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from pipeline.common.device import resolve_device
from pipeline.extractors import (
    MissingWeightsError,
    available_extractors,
    available_text_encoders,
    build_extractor,
    build_text_encoder,
)
from pipeline.extractors.base import check_frames
from pipeline.extractors.frames import (
    center_crop,
    normalize,
    pad_repeat_last,
    resize_square,
    uniform_indices,
)
from pipeline.video.sampling import ReferenceFrames, ReferenceSlowFast

TINY_DIMS = {"slowfast": 288, "clip": 32, "blip2": 32}


def test_registry_lists_encoders_in_concatenation_order():
    assert available_extractors() == ["slowfast", "clip", "blip2"]
    assert available_text_encoders() == ["clip", "blip2"]


def test_unknown_name_and_preset_are_refused_with_the_choices():
    with pytest.raises(KeyError, match="registered: \\['blip2', 'clip', 'slowfast'\\]"):
        build_extractor("i3d")
    with pytest.raises(KeyError, match="text encoder 'slowfast'"):
        build_text_encoder("slowfast")
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        build_extractor("clip", preset="huge")


@pytest.mark.parametrize("name", ["slowfast", "clip", "blip2"])
def test_tiny_presets_are_labelled_and_declare_their_sampling(name):
    ext = build_extractor(name, preset="tiny", seed=3)
    assert ext.name == name
    assert ext.preset == "tiny"
    assert ext.weights_id == "tiny:seed3"
    assert ext.dim == TINY_DIMS[name]
    # the public extractors' frame rules, for every preset (tests/pipeline/test_reference_frames.py)
    expected = ReferenceSlowFast(fps=30.0, num_frames=32, short_side=224) if name == "slowfast" else ReferenceFrames()
    assert ext.sampling == expected
    info = ext.describe()
    assert info["weights_id"].startswith("tiny:") and info["preset"] == "tiny" and info["dim"] == ext.dim


@pytest.mark.parametrize("name", ["slowfast", "clip", "blip2"])
def test_paper_preset_without_weights_names_the_missing_file(name, tmp_path):
    with pytest.raises(MissingWeightsError, match=str(tmp_path)):
        build_extractor(name, preset="paper", weights_dir=tmp_path)


def test_text_encoders_share_the_video_models_weights():
    video = build_extractor("clip", seed=1)
    text = build_text_encoder("clip", seed=1)
    for (k, a), b in zip(video.model.state_dict().items(), text.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_encode_video_of_no_clips_is_empty_and_bad_batch_sizes_fail():
    ext = build_extractor("clip")
    assert ext.encode_video([]).shape == (0, 32)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        ext.encode_video([], batch_size=0)


def test_check_frames_says_what_it_got():
    with pytest.raises(ValueError, match="uint8 numpy \\[T, H, W, 3\\]"):
        check_frames("clip", np.zeros((1, 8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="no frames"):
        check_frames("clip", np.zeros((0, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="expected 1 frame\\(s\\) per clip .* \\(got 2\\)"):
        check_frames("clip", np.zeros((2, 8, 8, 3), dtype=np.uint8), n_frames=1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_cuda_without_a_gpu_is_refused():
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")


def test_center_crop_takes_the_middle_with_floor_offsets_like_ffmpeg_crop():
    h, w = 224, 399  # offset (399 - 224) // 2 = 87
    cols = np.broadcast_to(np.arange(w, dtype=np.uint8)[None, :, None], (h, w, 3))  # pixel value = column % 256
    frames = np.ascontiguousarray(cols[None])
    out = center_crop(frames, crop=224)
    assert out.shape == (1, 224, 224, 3) and out.dtype == np.uint8
    assert np.shares_memory(out, frames)  # short side already 224: a slice, no copy
    assert out[0, 0, 0, 0] == 87 and out[0, 0, -1, 0] == (87 + 223) % 256


def test_center_crop_with_indices_selects_then_crops_in_one_copy(make_clips):
    (frames,) = make_clips(1, 10, 32, 50)
    idx = np.array([0, 3, 3, 9])
    out = center_crop(frames, crop=32, indices=idx)
    assert out.shape == (4, 32, 32, 3) and out.flags["C_CONTIGUOUS"] and not np.shares_memory(out, frames)
    np.testing.assert_array_equal(out, frames[idx][:, :, 9:41])


def test_center_crop_resizes_other_short_sides_and_model_inputs():
    frames = np.full((2, 112, 200, 3), 77, dtype=np.uint8)
    out = center_crop(frames, crop=224)
    assert out.shape == (2, 224, 224, 3) and out.dtype == np.uint8 and (out == 77).all()
    small = resize_square(torch.from_numpy(out).permute(0, 3, 1, 2), 30)
    assert small.shape == (2, 3, 30, 30) and small.dtype == torch.float32
    assert torch.allclose(small, torch.full_like(small, 77.0), atol=1e-3)


def test_center_crop_fallback_resize_is_the_float_resize_rounded(make_clips, old_float_preprocess):
    """Frames not at the crop's short side (the engine never delivers these) lose only the rounding to uint8."""
    (frames,) = make_clips(1, 3, 100, 150)
    out = torch.from_numpy(center_crop(frames, crop=64)).permute(0, 3, 1, 2).float()
    ref = old_float_preprocess(frames, 64, 64, (0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255))  # identity normalisation
    assert out.shape == ref.shape == (3, 3, 64, 64)
    assert (out - ref).abs().max() <= 0.5 + 1e-3


def test_normalize_uses_pixel_scale_mean_and_std():
    x = torch.full((3, 2, 2), 255.0)
    y = normalize(x, (0.5, 0.5, 0.5), (0.25, 0.5, 1.0), channel_dim=0)
    assert torch.allclose(y[:, 0, 0], torch.tensor([2.0, 1.0, 0.5]))


def test_normalize_reads_uint8_and_matches_the_two_step_formula():
    x = torch.arange(256, dtype=torch.uint8).repeat(3, 1).view(1, 3, 16, 16)
    mean, std = (0.45, 0.4, 0.3), (0.225, 0.25, 0.2)
    y = normalize(x, mean, std, channel_dim=1)
    two_step = (x.float() / 255.0 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, two_step, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(normalize(x.float(), mean, std, channel_dim=-3), y)


def test_pad_and_uniform_indices():
    assert pad_repeat_last(2, 4).tolist() == [0, 1, 1, 1]
    idx = uniform_indices(60, 32)
    assert len(idx) == 32 and idx[0] == 0 and idx[-1] == 59 and np.all(np.diff(idx) > 0)
    assert uniform_indices(1, 4).tolist() == [0, 0, 0, 0]


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_compat_alias_makes_pytorchvideo_transforms_importable():
    import torchvision.transforms._functional_tensor as new

    from pipeline.extractors import _compat  # noqa: F401  (installs the alias)

    assert sys.modules["torchvision.transforms.functional_tensor"] is new
    import pytorchvideo.transforms  # noqa: F401
    import pytorchvideo.transforms.augmentations as aug

    assert aug.F_t is new


@pytest.mark.slow
def test_pytorchvideo_transforms_needs_the_alias():
    """In a fresh interpreter the plain import fails, and works once the shim is imported."""
    code = (
        "try:\n"
        "    import pytorchvideo.transforms\n"
        "    raise SystemExit('imported without the alias: the shim may be unnecessary now')\n"
        "except ModuleNotFoundError as err:\n"
        "    assert 'functional_tensor' in str(err), err\n"
        "import pipeline.extractors._compat\n"
        "import pytorchvideo.transforms\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def _old_network_input(ext, clips, old_float_preprocess):
    """The float network input the pre-split extractors built per clip on CPU, stacked."""
    if ext.name == "slowfast":
        rows = [old_float_preprocess(c[ext.frame_indices(len(c))[0]], ext.crop_size, ext.input_size, (0.45,) * 3,
                                     (0.225,) * 3).transpose(0, 1) for c in clips]  # (3, T, S, S)
    else:
        from pipeline.extractors.frames import CLIP_MEAN, CLIP_STD
        rows = [old_float_preprocess(c, ext.crop_size, ext.image_size, CLIP_MEAN, CLIP_STD)[0] for c in clips]
    return torch.stack(rows)


def _extractor(name, crop):
    from pipeline.extractors.blip2 import Blip2Extractor, build_tiny_blip2
    from pipeline.extractors.clip import ClipExtractor, _tiny_model
    from pipeline.extractors.slowfast import SlowFastExtractor

    if name == "slowfast":
        return SlowFastExtractor.tiny(seed=0, crop_size=crop)
    if name == "clip":
        return ClipExtractor(_tiny_model(0), preset="tiny", weights_id="tiny:seed0", crop_size=crop)
    model, tok = build_tiny_blip2(0)
    return Blip2Extractor(model, tok, preset="tiny", weights_id="tiny:seed0", crop_size=crop)


# crop 224 resizes to the tiny model input on the device; crop = the input size is the paper case (no resize)
@pytest.mark.parametrize(("name", "crop", "n_frames", "clip_shape"), [
    ("slowfast", 224, 60, (32, 224, 224, 3)),
    ("slowfast", 32, 45, (32, 32, 32, 3)),
    ("clip", 224, 1, (3, 224, 224)),
    ("clip", 32, 1, (3, 32, 32)),
    ("blip2", 224, 1, (3, 224, 224)),
    ("blip2", 30, 1, (3, 30, 30)),
])
def test_uint8_preprocess_then_device_prepare_equals_the_old_float_path(name, crop, n_frames, clip_shape, make_clips,
                                                                        old_float_preprocess):
    ext = _extractor(name, crop)
    clips = make_clips(3, n_frames, crop, crop + crop // 2 + 1, seed=5)  # landscape, odd width: floor offsets
    pre = [ext.preprocess_clip(c) for c in clips]
    assert all(x.dtype == torch.uint8 and tuple(x.shape) == clip_shape == ext.clip_shape for x in pre)
    batch = torch.stack(pre)
    old = _old_network_input(ext, clips, old_float_preprocess)
    with torch.inference_mode():
        new_input = ext.prepare_batch(batch)
        assert new_input.dtype == torch.float32 and new_input.shape == old.shape
        torch.testing.assert_close(new_input, old, atol=1e-5, rtol=1e-5)
        old_feats = ext._forward(old).float()
    torch.testing.assert_close(ext.encode_batch(batch), old_feats, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["slowfast", "clip", "blip2"])
def test_encode_batch_refuses_float_or_misshaped_batches(name):
    ext = build_extractor(name)
    good = torch.zeros((2, *ext.clip_shape), dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8"):
        ext.encode_batch(good.float())
    with pytest.raises(ValueError, match="uint8"):
        ext.encode_batch(good[:, :2])
    with pytest.raises(ValueError, match="non-empty"):
        ext.encode_batch(good[:0])
    assert ext.encode_batch(good).shape == (2, ext.dim)
