"""CLIP ViT-B/32 (open_clip, OpenAI weights): one image embedding per clip, token features per query."""

from __future__ import annotations

import copy
import logging
import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import open_clip
import torch
from open_clip.model import CLIP
from open_clip.transformer import text_global_pool

from pipeline.extractors.base import (
    TextEncoder,
    TextFeatures,
    SingleFrameImageExtractor,
    check_queries,
    check_preset,
    seeded,
    tiny_weights_id,
)
from pipeline.extractors.weights import MissingWeightsError, disk_weights_id, find_first, hf_cache_file

log = logging.getLogger(__name__)

OPENAI_URL = (
    "https://openaipublic.azureedge.net/clip/models/"
    "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt"
)
HF_REPO = "timm/vit_base_patch32_clip_224.openai"
HF_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
SUFFIXES = (".safetensors", ".pt", ".bin")


@dataclass(frozen=True)
class ClipPreset:
    """Architecture and on-disk name of one preset.

    Attributes:
        model_cfg: keyword arguments of `open_clip.model.CLIP`.
        stem: weights file path relative to a weights dir, without suffix (one of SUFFIXES is added).
        source: human-readable origin, the first part of `weights_id`.
    """

    model_cfg: dict = field(hash=False)
    stem: str
    source: str


# The OpenAI checkpoints were trained with QuickGELU; open_clip's plain "ViT-B-32" config uses nn.GELU.
PRESETS = {
    "paper": ClipPreset({**open_clip.get_model_config("ViT-B-32"), "quick_gelu": True},
                        "open_clip/ViT-B-32-openai", "open_clip:ViT-B-32/openai"),
    # Same classes, 2 layers of width 32 per tower, 32-px images in 4-px patches, the real BPE vocab.
    "tiny": ClipPreset(
        {
            "embed_dim": 32,
            "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 4, "head_width": 16},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
            "quick_gelu": True,
        },
        "open_clip/tiny-clip", "open_clip:tiny",
    ),
}


def build_open_clip(preset: str) -> CLIP:
    """The preset's open_clip CLIP with freshly initialised weights (seed outside)."""
    check_preset(preset)
    return CLIP(**copy.deepcopy(PRESETS[preset].model_cfg)).eval()


def weights_file(preset: str, weights_dir: str | os.PathLike | None) -> Path:
    """Where the preset's weights are: `<weights_dir>/<stem>{.safetensors,.pt,.bin}`, else the HF cache.

    Accepted files: an open_clip state dict (`torch.save(model.state_dict())`, or the HF hub's
    `open_clip_model.safetensors` / `open_clip_pytorch_model.bin` renamed) or OpenAI's original
    TorchScript `ViT-B-32.pt`.
    """
    check_preset(preset)
    spec = PRESETS[preset]
    how = (
        f"Put the OpenAI ViT-B-32 checkpoint ({OPENAI_URL}, or open_clip_model.safetensors from the HF repo "
        f"{HF_REPO}) at <weights_dir>/{spec.stem}.pt (or .safetensors) and pass weights_dir."
    )
    if weights_dir is not None:
        return find_first([Path(weights_dir) / f"{spec.stem}{s}" for s in SUFFIXES], what=f"CLIP {preset} weights", how=how)
    if preset == "paper":
        for name in HF_FILES:
            if (found := hf_cache_file(HF_REPO, name)) is not None:
                return found
    raise MissingWeightsError(
        f"CLIP {preset} weights: no weights_dir given and none in the Hugging Face cache ({HF_REPO}). {how}"
    )


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n == "constants.pkl" or n.endswith("/constants.pkl") for n in zf.namelist())


def load_open_clip(preset: str, weights_dir: str | os.PathLike | None) -> tuple[CLIP, str]:
    """Build the preset's model and load its weights from disk; returns (model, weights_id)."""
    path = weights_file(preset, weights_dir)
    model = build_open_clip(preset)
    if _is_torchscript(path):  # OpenAI's original release: a TorchScript archive of the same module tree
        with warnings.catch_warnings():  # torch.jit is deprecated, but this file format is what OpenAI published
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
            state = torch.jit.load(str(path), map_location="cpu").state_dict()
        # scalars OpenAI stored beside the weights, and the causal mask a scripted open_clip model carries
        for key in ("input_resolution", "context_length", "vocab_size", "attn_mask"):
            state.pop(key, None)
        model.load_state_dict(state, strict=True)
    else:
        open_clip.load_checkpoint(model, str(path), strict=True, weights_only=True)
    log.info("loaded CLIP %s weights from %s", preset, path)
    return model.eval(), disk_weights_id(PRESETS[preset].source, path, tiny=preset == "tiny")


def save_open_clip(model: CLIP, preset: str, weights_dir: str | os.PathLike) -> Path:
    """Write `model` as an open_clip state-dict file where `weights_file(preset, weights_dir)` finds it."""
    path = Path(weights_dir) / f"{PRESETS[preset].stem}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def _tiny_model(seed: int) -> CLIP:
    with seeded(seed):
        return build_open_clip("tiny")


def _image_size(model: CLIP) -> int:
    size = model.visual.image_size
    size = size if isinstance(size, int) else size[0]
    return int(size)


class ClipExtractor(SingleFrameImageExtractor):
    """One frame per clip (offset 0.0) -> CLIP image embedding (the projected features, 512 for ViT-B/32).

    Preprocessing: centre crop `crop_size` of frames whose short side is `crop_size` on CPU
    (`preprocess_clip`: uint8 [3, crop, crop]); on the device (`prepare_batch`) resized to the
    model's input size when that differs (tiny preset only), CLIP mean/std.
    """

    name = "clip"
    version = "1"

    def __init__(self, model: CLIP, *, preset: str, weights_id: str, device: str | torch.device = "cpu",
                 crop_size: int = 224, amp: bool = True):
        super().__init__(dim=model.visual.output_dim, preset=preset, weights_id=weights_id, device=device, amp=amp)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.crop_size = crop_size
        self.image_size = _image_size(model)
        self.sampling = self.sampling_for(crop_size)

    @classmethod
    def tiny(cls, seed: int = 0, device: str | torch.device = "cpu") -> ClipExtractor:
        """Random seeded tiny model (dim 32)."""
        return cls(_tiny_model(seed), preset="tiny", weights_id=tiny_weights_id(seed), device=device)

    @classmethod
    def from_pretrained(cls, weights_dir: str | os.PathLike | None = None, preset: str = "paper",
                        device: str | torch.device = "cpu") -> ClipExtractor:
        """Load weights from `weights_dir` (see `weights_file`) or the HF cache."""
        model, weights_id = load_open_clip(preset, weights_dir)
        return cls(model, preset=preset, weights_id=weights_id, device=device)

    def save_pretrained(self, weights_dir: str | os.PathLike) -> Path:
        """Save in the on-disk format `from_pretrained` reads (an open_clip state dict)."""
        return save_open_clip(self.model, self.preset, weights_dir)

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(batch)  # (B, embed_dim)


def reference_token_ids(tokenizer, queries: list[str], context_length: int = 77, max_valid: int = 32) -> torch.Tensor:
    """Token ids as Moment-DETR's / VideoLights' `tokenize(max_valid_length=32)` makes them:
    [SOT] + the first max_valid - 2 BPE tokens + [EOT], zero-padded to the context length, so the
    EOT is always kept (open_clip's own tokenizer cuts a long query's EOT off instead).

    `tokenizer` is open_clip's SimpleTokenizer (its cleaning, lower-casing and BPE are the references').
    """
    rows = []
    for query in queries:
        ids = [tokenizer.sot_token_id] + tokenizer.encode(query)[:max_valid - 2] + [tokenizer.eot_token_id]
        rows.append(ids + [0] * (context_length - len(ids)))
    return torch.tensor(rows, dtype=torch.long)


class ClipTextEncoder(TextEncoder):
    """CLIP text tower: token outputs after the final layer norm (no projection) and the pooled EOT vector.

    Tokens and kept positions are the public Moment-DETR/VideoLights features': ids from
    `reference_token_ids`, and the first (ids != 0).sum() token states (SOT and EOT included; an id-0
    token, BPE's "!" before punctuation, shortens that range by one, as in the references). `pooled` is
    the EOT token through the text projection (CLIP's usual text embedding). The token width must
    equal the embedding size (512 and 512 for ViT-B/32), so both share `dim`.
    """

    name = "clip"
    version = "2"

    def __init__(self, model: CLIP, tokenizer=None, *, preset: str, weights_id: str,
                 device: str | torch.device = "cpu", max_tokens: int = 32, amp: bool = True):
        width, embed = model.transformer.width, model.text_projection.shape[1]
        if width != embed:
            raise ValueError(f"clip text: token width {width} != embedding size {embed}; TextFeatures needs one dim")
        super().__init__(dim=embed, preset=preset, weights_id=weights_id, device=device, amp=amp)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.tokenizer = tokenizer or open_clip.get_tokenizer("ViT-B-32", context_length=model.context_length)
        self.max_tokens = max_tokens

    @classmethod
    def tiny(cls, seed: int = 0, device: str | torch.device = "cpu") -> ClipTextEncoder:
        """Random seeded tiny model (dim 32), same weights as `ClipExtractor.tiny(seed)`."""
        return cls(_tiny_model(seed), preset="tiny", weights_id=tiny_weights_id(seed), device=device)

    @classmethod
    def from_pretrained(cls, weights_dir: str | os.PathLike | None = None, preset: str = "paper",
                        device: str | torch.device = "cpu") -> ClipTextEncoder:
        model, weights_id = load_open_clip(preset, weights_dir)
        return cls(model, preset=preset, weights_id=weights_id, device=device)

    def save_pretrained(self, weights_dir: str | os.PathLike) -> Path:
        return save_open_clip(self.model, self.preset, weights_dir)

    def _encode(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids [B, ctx] -> (token states after ln_final [B, ctx, width], pooled [B, embed])."""
        m = self.model
        cast_dtype = m.transformer.get_cast_dtype()
        x = m.token_embedding(text).to(cast_dtype) + m.positional_embedding.to(cast_dtype)  # (B, ctx, width)
        x = m.ln_final(m.transformer(x, attn_mask=m.attn_mask))  # (B, ctx, width)
        pooled = text_global_pool(x, text, m.text_pool_type, eos_token_id=getattr(m, "text_eos_id", None))
        pooled = m.text_projection(pooled) if isinstance(m.text_projection, torch.nn.Linear) else pooled @ m.text_projection
        return x, pooled

    def encode_text(self, queries: list[str], batch_size: int = 64) -> list[TextFeatures]:
        """Encode queries; tokens [min(n_valid, max_tokens), dim] and pooled [dim], float32."""
        check_queries(self.name, queries)
        out: list[TextFeatures] = []
        for start in range(0, len(queries), batch_size):
            ids = reference_token_ids(self.tokenizer, queries[start:start + batch_size], self.model.context_length,
                                      self.max_tokens)  # (B, ctx) long
            n_valid = (ids != 0).sum(dim=-1).tolist()
            with torch.inference_mode(), self._autocast():
                states, pooled = self._encode(self._to_device(ids))
            states, pooled = states.float().cpu().numpy(), pooled.float().cpu().numpy()
            for i, n in enumerate(n_valid):
                out.append(TextFeatures(tokens=states[i, :n].copy(), pooled=pooled[i].copy()))
        return out
