"""BLIP-2 OPT captioner (transformers' Blip2ForConditionalGeneration): one caption per frame, batched, deterministic."""

from __future__ import annotations

import logging
import os
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from transformers import (
    AutoTokenizer,
    Blip2Config,
    Blip2ForConditionalGeneration,
    PreTrainedTokenizerBase,
)

from pipeline.common.device import resolve_device
from pipeline.extractors.base import seeded, tiny_weights_id
from pipeline.extractors.frames import (
    CLIP_MEAN,
    CLIP_STD,
    center_crop,
    normalize,
    resize_square,
)
from pipeline.extractors.weights import (
    MissingWeightsError,
    disk_weights_id,
    find_first,
    hf_cache_file,
)

log = logging.getLogger(__name__)

HF_REPO = "Salesforce/blip2-opt-2.7b"
CAPTION_PRESETS: tuple[str, ...] = ("tiny", "paper", "random-paper")
# where a weights dir keeps `save_pretrained` directories (model + tokenizer), per preset
DIRS = {"paper": f"transformers/{HF_REPO}", "tiny": "transformers/tiny-blip2-opt"}
SOURCES = {"paper": f"transformers:{HF_REPO}", "tiny": "transformers:tiny-blip2-opt"}
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer_config.json")
# OPT's special tokens and ids (<s>=0, <pad>=1, </s>=2, <unk>=3); "<image>" marks the query-token slots
_SPECIAL = ("<s>", "<pad>", "</s>", "<unk>")
_IMAGE = "<image>"
# the OPT-2.7B language model of Salesforce/blip2-opt-2.7b (used by the random-paper preset)
_OPT_2_7B = {"model_type": "opt", "vocab_size": 50272, "hidden_size": 2560, "num_hidden_layers": 32,
             "num_attention_heads": 32, "ffn_dim": 10240, "max_position_embeddings": 2048,
             "word_embed_proj_dim": 2560, "bos_token_id": 2, "eos_token_id": 2, "pad_token_id": 1}
_OPT_IMAGE_TOKEN = 50265
# random weights of the std HF uses (0.02) give captions that barely depend on the image; a wide
# init makes the tiny captioner's gibberish image-dependent, which the tests rely on
_TINY_INIT_STD = 0.5


class GenerationSettings(BaseModel):
    """Decoding settings of the captioner: deterministic only (greedy or beam search, never sampling).

    Defaults are LAVIS' `Blip2OPT.generate` defaults for captioning (beam 5, up to 30 tokens,
    at least 1, no repetition or length penalty), without a prompt as for the pretrain OPT model.

    Attributes:
        num_beams: beams of beam search; 1 = greedy decoding.
        max_new_tokens: most caption tokens generated (the 32 query tokens and BOS are not counted).
        min_new_tokens: fewest caption tokens before end-of-sequence may be generated.
        repetition_penalty: >1 discourages repeated tokens; 1.0 = none.
        length_penalty: beam-score length exponent; 1.0 = neutral.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    num_beams: int = Field(default=5, ge=1)
    max_new_tokens: int = Field(default=30, ge=1)
    min_new_tokens: int = Field(default=1, ge=0)
    repetition_penalty: float = Field(default=1.0, gt=0)
    length_penalty: float = 1.0

    def generate_kwargs(self) -> dict[str, object]:
        """Keyword arguments for `generate`; sampling is always off, so the output is a function of the input."""
        return {"do_sample": False, **self.model_dump()}


def _wordpiece_tokenizer(vocab: dict[str, int]) -> PreTrainedTokenizerBase:
    """A fast WordPiece tokenizer over `vocab` (which holds OPT's special tokens and "<image>") that decodes offline."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="<unk>", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>", model_max_length=512)
    fast.add_special_tokens({"additional_special_tokens": [_IMAGE]})
    return fast


def build_tiny_caption_tokenizer() -> PreTrainedTokenizerBase:
    """An offline OPT-style tokenizer over single characters (ids: <s> 0, <pad> 1, </s> 2, <unk> 3; <image> last)."""
    chars = list(string.ascii_lowercase + string.digits + ".,'-")
    tokens = [*_SPECIAL, *chars, *("##" + c for c in chars), _IMAGE]
    return _wordpiece_tokenizer({tok: i for i, tok in enumerate(tokens)})


def build_word_tokenizer(vocab_size: int, image_token_index: int) -> PreTrainedTokenizerBase:
    """An offline tokenizer with `vocab_size` made-up words (`w<id>`) so every id a real-size OPT emits decodes."""
    words = [*_SPECIAL, *(f"w{i}" for i in range(len(_SPECIAL), vocab_size))]
    words[image_token_index] = _IMAGE
    return _wordpiece_tokenizer({w: i for i, w in enumerate(words)})


def tiny_caption_config(tokenizer: PreTrainedTokenizerBase) -> Blip2Config:
    """Tiny BLIP-2 OPT: width 32, 2 layers per tower, 30-px images in 2-px patches, 32 query tokens.

    The OPT vocabulary is the tokenizer's; "<image>" (the query-token slots) is its last id.
    """
    std = _TINY_INIT_STD
    return Blip2Config(
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
                       "image_size": 30, "patch_size": 2, "initializer_range": std},
        qformer_config={"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                        "intermediate_size": 37, "max_position_embeddings": 64, "initializer_range": std},
        text_config={"model_type": "opt", "vocab_size": len(tokenizer), "hidden_size": 32, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "ffn_dim": 37, "max_position_embeddings": 128,
                     "word_embed_proj_dim": 32, "init_std": std, "bos_token_id": tokenizer.bos_token_id,
                     "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id},
        num_query_tokens=32, image_token_index=tokenizer.convert_tokens_to_ids(_IMAGE), initializer_range=std,
    )


def paper_caption_config() -> Blip2Config:
    """The architecture of Salesforce/blip2-opt-2.7b (ViT-g/14, 12-layer Q-Former, OPT-2.7B), for random weights."""
    return Blip2Config(text_config=dict(_OPT_2_7B), num_query_tokens=32, image_token_index=_OPT_IMAGE_TOKEN)


def build_tiny_captioner(seed: int = 0) -> tuple[Blip2ForConditionalGeneration, PreTrainedTokenizerBase]:
    """Random seeded tiny captioner and its offline tokenizer."""
    tokenizer = build_tiny_caption_tokenizer()
    with seeded(seed):
        model = Blip2ForConditionalGeneration(tiny_caption_config(tokenizer))
    return model.eval(), tokenizer


def build_random_paper_captioner(seed: int = 0) -> tuple[Blip2ForConditionalGeneration, PreTrainedTokenizerBase]:
    """The real-size architecture with random seeded float32 weights (benchmarks only: its captions mean nothing)."""
    tokenizer = build_word_tokenizer(_OPT_2_7B["vocab_size"], _OPT_IMAGE_TOKEN)
    with seeded(seed):
        model = Blip2ForConditionalGeneration(paper_caption_config())
    return model.eval(), tokenizer


def caption_weights_path(preset: str, weights_dir: str | os.PathLike | None) -> Path:
    """The preset's `save_pretrained` directory: `<weights_dir>/<DIRS[preset]>`, else (paper) the HF cache snapshot."""
    if preset not in DIRS:
        raise ValueError(f"captioner weights exist for presets {sorted(DIRS)}, not {preset!r}")
    how = (f"On a machine with network run `huggingface-cli download {HF_REPO} --local-dir "
           f"<weights_dir>/{DIRS['paper']}` (or populate the HF cache) and pass weights_dir.")
    if weights_dir is not None:
        return find_first([Path(weights_dir) / DIRS[preset] / "config.json"],
                          what=f"BLIP-2 OPT captioner {preset} weights", how=how).parent
    if preset == "paper" and (config := hf_cache_file(HF_REPO, "config.json")) is not None:
        return config.parent
    raise MissingWeightsError(
        f"BLIP-2 OPT captioner {preset} weights: no weights_dir given and {HF_REPO} is not in the "
        f"Hugging Face cache. {how}"
    )


def load_captioner(preset: str, weights_dir: str | os.PathLike | None, dtype: torch.dtype = torch.float32
                   ) -> tuple[Blip2ForConditionalGeneration, PreTrainedTokenizerBase, str]:
    """Load model and tokenizer offline (local_files_only); returns (model, tokenizer, weights_id)."""
    path = caption_weights_path(preset, weights_dir)
    if not (path / "tokenizer.json").is_file() and not (path / "vocab.json").is_file():
        raise MissingWeightsError(f"{path}: no tokenizer next to the captioner weights (neither tokenizer.json "
                                  f"nor vocab.json); download the full {HF_REPO} repository, tokenizer included")
    model = Blip2ForConditionalGeneration.from_pretrained(path, local_files_only=True, dtype=dtype)
    if model.config.image_token_index is None:
        raise MissingWeightsError(
            f"{path}: config.json has no image_token_index (a snapshot older than transformers' image-token "
            f"BLIP-2 format); download the current revision of {HF_REPO}"
        )
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    log.info("loaded BLIP-2 OPT captioner %s weights from %s", preset, path)
    return model.eval(), tokenizer, disk_weights_id(SOURCES[preset], path, tiny=preset == "tiny")


def frames_to_pixels(frames: Sequence[np.ndarray], crop_size: int, image_size: int,
                     device: torch.device) -> torch.Tensor:
    """uint8 RGB frames [H, W, 3] (or [1, H, W, 3]) -> normalised float32 pixels [B, 3, S, S] on `device`.

    Centre crop `crop_size` on the CPU (only slicing for frames decoded at that short side), then on
    the device the bicubic resize to the model's `image_size` (tiny models only) and CLIP mean/std,
    as BLIP-2's image processors do.
    """
    crops = []
    for frame in frames:
        clip = frame if frame.ndim == 4 else frame[None]
        if clip.dtype != np.uint8 or clip.ndim != 4 or clip.shape[0] != 1 or clip.shape[-1] != 3:
            raise ValueError(f"expected one uint8 RGB frame [H, W, 3] per image (got {clip.dtype} {tuple(frame.shape)})")
        crops.append(torch.from_numpy(np.ascontiguousarray(center_crop(clip, crop_size)[0])))
    if not crops:
        raise ValueError("expected at least one frame")
    batch = torch.stack(crops).permute(0, 3, 1, 2).to(device)  # (B, 3, crop, crop) uint8
    return normalize(resize_square(batch, image_size).contiguous(), CLIP_MEAN, CLIP_STD, channel_dim=1)


def default_dtype(device: torch.device) -> torch.dtype:
    """bf16 on CUDA (fp16 where bf16 is unsupported), float32 on CPU."""
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class Blip2Captioner:
    """Captions frames with a BLIP-2 OPT model: centre crop, resize to the model input, CLIP mean/std, generate.

    Preprocessing follows the release's frames (short side `crop_size`, centre crop `crop_size`;
    LAVIS' eval processor then resizes to the model's 224) and BLIP-2's image processor (CLIP
    mean/std). Generation runs without a prompt, as LAVIS' pretrain OPT model does, with
    `GenerationSettings` (deterministic); captions are stripped of special tokens and spaces.

    Attributes:
        preset: "tiny" (random seeded small model), "paper" (Salesforce/blip2-opt-2.7b) or
            "random-paper" (the paper's architecture with random weights, for benchmarks).
        weights_id: identity of the weights ("tiny:..." for tiny, "random:..." for random-paper).
        settings: the decoding settings.
        dtype: weights dtype (the Q-Former stays float32, as transformers keeps it).
    """

    name = "blip2-opt-captioner"
    version = "1"

    def __init__(self, model: Blip2ForConditionalGeneration, tokenizer: PreTrainedTokenizerBase, *,
                 preset: Literal["tiny", "paper", "random-paper"], weights_id: str,
                 device: str | torch.device = "cpu", settings: GenerationSettings = GenerationSettings(),
                 crop_size: int = 224, dtype: torch.dtype | None = None):
        if preset not in CAPTION_PRESETS:
            raise ValueError(f"unknown captioner preset {preset!r}; expected one of {CAPTION_PRESETS}")
        if preset != "paper" and not weights_id.startswith(("tiny:", "random:")):
            raise ValueError(f"a {preset} captioner has random weights: its weights_id must start with "
                             f"'tiny:' or 'random:' (got {weights_id!r})")
        self.preset, self.weights_id, self.settings, self.crop_size = preset, weights_id, settings, crop_size
        self.device = resolve_device(device)
        self.dtype = dtype or default_dtype(self.device)
        self.model = _cast_keeping_fp32(model.eval().requires_grad_(False), self.dtype).to(self.device)
        self.tokenizer = tokenizer
        self.image_size = int(model.config.vision_config.image_size)
        self._prompt_length = int(model.config.num_query_tokens) + 1  # image slots + BOS, echoed by generate
        positions = int(model.config.text_config.max_position_embeddings)
        if self._prompt_length + settings.max_new_tokens > positions:
            raise ValueError(f"{self.name}: {self._prompt_length} prompt tokens + max_new_tokens="
                             f"{settings.max_new_tokens} exceed the language model's {positions} positions; "
                             f"lower max_new_tokens to at most {positions - self._prompt_length}")

    @classmethod
    def tiny(cls, seed: int = 0, device: str | torch.device = "cpu",
             settings: GenerationSettings = GenerationSettings(), crop_size: int = 224) -> Blip2Captioner:
        """Random seeded tiny captioner: deterministic gibberish captions that depend on the image."""
        model, tokenizer = build_tiny_captioner(seed)
        return cls(model, tokenizer, preset="tiny", weights_id=tiny_weights_id(seed), device=device, settings=settings,
                   crop_size=crop_size)

    @classmethod
    def random_paper(cls, seed: int = 0, device: str | torch.device = "cpu",
                     settings: GenerationSettings = GenerationSettings(), crop_size: int = 224) -> Blip2Captioner:
        """The paper's architecture (about 3.8 B parameters) with random weights, for timing on a GPU."""
        model, tokenizer = build_random_paper_captioner(seed)
        return cls(model, tokenizer, preset="random-paper", weights_id=f"random:blip2-opt-2.7b-arch:seed{seed}",
                   device=device, settings=settings, crop_size=crop_size)

    @classmethod
    def from_pretrained(cls, weights_dir: str | os.PathLike | None = None, preset: str = "paper",
                        device: str | torch.device = "cpu", settings: GenerationSettings = GenerationSettings(),
                        crop_size: int = 224) -> Blip2Captioner:
        """Load `<weights_dir>/<DIRS[preset]>` (or, for paper, the HF cache) offline."""
        dtype = default_dtype(resolve_device(device))
        model, tokenizer, weights_id = load_captioner(preset, weights_dir, dtype)
        return cls(model, tokenizer, preset=preset, weights_id=weights_id, device=device, settings=settings,
                   crop_size=crop_size, dtype=dtype)

    def save_pretrained(self, weights_dir: str | os.PathLike) -> Path:
        """`save_pretrained` model and tokenizer where `from_pretrained(weights_dir, preset)` finds them."""
        if self.preset not in DIRS:
            raise ValueError(f"a {self.preset} captioner is not saved (only {sorted(DIRS)} load from disk)")
        path = Path(weights_dir) / DIRS[self.preset]
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        return path

    def describe(self) -> dict[str, object]:
        """Identity and decoding settings, for the run's manifest and reports."""
        return {"captioner": self.name, "version": self.version, "preset": self.preset,
                "weights_id": self.weights_id, "crop_size": self.crop_size, "image_size": self.image_size,
                "generation": self.settings.model_dump()}

    def _pixels(self, frames: Sequence[np.ndarray]) -> torch.Tensor:
        return frames_to_pixels(frames, self.crop_size, self.image_size, self.device).to(self.dtype)

    def caption(self, frames: Sequence[np.ndarray], batch_size: int = 16) -> list[str]:
        """One caption per frame, in order.

        Args:
            frames: uint8 RGB frames [H, W, 3] (short side `crop_size` avoids a resize).
            batch_size: frames per `generate` call.

        Returns:
            Captions, stripped (possibly empty: callers filter those).
        """
        if batch_size < 1:
            raise ValueError(f"{self.name}: batch_size must be >= 1 (got {batch_size})")
        out: list[str] = []
        for start in range(0, len(frames), batch_size):
            with torch.inference_mode():
                ids = self.model.generate(pixel_values=self._pixels(frames[start:start + batch_size]),
                                          **self.settings.generate_kwargs())  # (B, prompt + new)
            texts = self.tokenizer.batch_decode(ids[:, self._prompt_length:].cpu(), skip_special_tokens=True)
            out.extend(t.strip() for t in texts)
        return out

    def __repr__(self) -> str:
        return f"Blip2Captioner(preset={self.preset!r}, weights_id={self.weights_id!r}, device={str(self.device)!r})"


def _cast_keeping_fp32(model: Blip2ForConditionalGeneration, dtype: torch.dtype) -> Blip2ForConditionalGeneration:
    """Cast to `dtype` except the parts transformers keeps in float32 (the Q-Former and its query tokens).

    Casting part by part (never the whole model first) leaves float32 weights loaded as float32 untouched.
    """
    keep = set(getattr(model, "_keep_in_fp32_modules", None) or ())
    for name, child in model.named_children():
        child.to(torch.float32 if name in keep else dtype)
    for name, param in model.named_parameters(recurse=False):
        param.data = param.data.to(torch.float32 if name in keep else dtype)
    return model
