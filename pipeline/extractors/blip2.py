"""BLIP-2 stage-1 Q-Former (transformers' Blip2ForImageTextRetrieval): query-token features per frame and query."""

from __future__ import annotations

import logging
import os
import re
import string
from pathlib import Path

import torch
from transformers import AutoTokenizer, Blip2Config, Blip2ForImageTextRetrieval, PreTrainedTokenizerBase

from pipeline.extractors.base import (
    TextEncoder,
    TextFeatures,
    SingleFrameImageExtractor,
    check_preset,
    check_queries,
    seeded,
    tiny_weights_id,
)
from pipeline.extractors.weights import MissingWeightsError, disk_weights_id, find_first, hf_cache_file

log = logging.getLogger(__name__)

HF_REPO = "Salesforce/blip2-itm-vit-g"
# where a weights dir keeps `save_pretrained` directories (model + tokenizer), per preset
DIRS = {"paper": f"transformers/{HF_REPO}", "tiny": "transformers/tiny-blip2"}
SOURCES = {"paper": f"transformers:{HF_REPO}", "tiny": "transformers:tiny-blip2"}
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def blip_caption_text(text: str, max_words: int = 50) -> str:
    """LAVIS' `blip_caption` eval text processing, which the public BLIP-2 query features used.

    >>> blip_caption_text('A man "talks" about:  his trip!')
    'a man talks about his trip'
    """
    text = re.sub(r"([.!\"()*#:;~])", " ", text.lower())
    text = re.sub(r"\s{2,}", " ", text).rstrip("\n").strip(" ")
    return " ".join(text.split(" ")[:max_words])


def build_tiny_tokenizer() -> PreTrainedTokenizerBase:
    """An offline BERT-style WordPiece tokenizer over single characters: [CLS] text [SEP], pad id 0."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = {tok: i for i, tok in enumerate([*_SPECIAL, *chars, *("##" + c for c in chars)])}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)


def tiny_config(vocab_size: int) -> Blip2Config:
    """Tiny BLIP-2 in the spirit of HF's Blip2 model tester: width 32, 2 layers, 30-px images in 2-px patches."""
    return Blip2Config(
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
                       "image_size": 30, "patch_size": 2, "initializer_range": 0.02},
        qformer_config={"vocab_size": vocab_size, "hidden_size": 32, "num_hidden_layers": 2,
                        "num_attention_heads": 4, "intermediate_size": 37, "max_position_embeddings": 64,
                        "use_qformer_text_input": True},
        # unused by the retrieval model, kept small so the saved config stays small
        text_config={"model_type": "opt", "vocab_size": 99, "hidden_size": 16, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "ffn_dim": 16, "max_position_embeddings": 64, "word_embed_proj_dim": 16},
        num_query_tokens=32, image_text_hidden_size=16,
    )


def build_tiny_blip2(seed: int = 0) -> tuple[Blip2ForImageTextRetrieval, PreTrainedTokenizerBase]:
    """Random seeded tiny retrieval model (dim 32, 32 query tokens) and its offline tokenizer."""
    tokenizer = build_tiny_tokenizer()
    with seeded(seed):
        model = Blip2ForImageTextRetrieval(tiny_config(len(tokenizer)))
    return model.eval(), tokenizer


def weights_path(preset: str, weights_dir: str | os.PathLike | None) -> Path:
    """The preset's `save_pretrained` directory: `<weights_dir>/<DIRS[preset]>`, else (paper) the HF cache snapshot."""
    check_preset(preset)
    how = (f"On a machine with network run `huggingface-cli download {HF_REPO} --local-dir "
           f"<weights_dir>/{DIRS['paper']}` (or populate the HF cache) and pass weights_dir.")
    if weights_dir is not None:
        return find_first([Path(weights_dir) / DIRS[preset] / "config.json"], what=f"BLIP-2 {preset} weights",
                          how=how).parent
    if preset == "paper" and (config := hf_cache_file(HF_REPO, "config.json")) is not None:
        return config.parent
    raise MissingWeightsError(
        f"BLIP-2 {preset} weights: no weights_dir given and {HF_REPO} is not in the Hugging Face cache. {how}"
    )


def load_blip2(preset: str, weights_dir: str | os.PathLike | None
               ) -> tuple[Blip2ForImageTextRetrieval, PreTrainedTokenizerBase, str]:
    """Load model and tokenizer offline (local_files_only) from the preset's directory; returns (model, tokenizer, weights_id)."""
    path = weights_path(preset, weights_dir)
    # checked first: without its files AutoTokenizer quietly returns an empty GPT-2 tokenizer for blip-2
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise MissingWeightsError(f"{path}: no tokenizer next to the BLIP-2 weights (none of {TOKENIZER_FILES}); "
                                  f"download the full {HF_REPO} repository, tokenizer included")
    model = Blip2ForImageTextRetrieval.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    log.info("loaded BLIP-2 %s weights from %s", preset, path)
    return model.eval(), tokenizer, disk_weights_id(SOURCES[preset], path, tiny=preset == "tiny")


def save_blip2(model: Blip2ForImageTextRetrieval, tokenizer: PreTrainedTokenizerBase, preset: str,
               weights_dir: str | os.PathLike) -> Path:
    """`save_pretrained` model and tokenizer where `weights_path(preset, weights_dir)` finds them."""
    path = Path(weights_dir) / DIRS[preset]
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


class Blip2Extractor(SingleFrameImageExtractor):
    """One frame per clip (offset 0.0) -> the first of the Q-Former's 32 query outputs (768 for ViT-g).

    Preprocessing: centre crop `crop_size` of frames whose short side is `crop_size` (the public
    features' frames) on CPU (`preprocess_clip`: uint8 [3, crop, crop]); on the device
    (`prepare_batch`) resized to the vision tower's input when that differs, CLIP mean/std as in
    BLIP-2's image processor. The output is the Q-Former's last hidden state, unprojected,
    as LAVIS' `extract_features(mode="image").image_embeds[:, 0]`.
    """

    name = "blip2"
    version = "1"

    def __init__(self, model: Blip2ForImageTextRetrieval, tokenizer: PreTrainedTokenizerBase | None = None, *,
                 preset: str, weights_id: str, device: str | torch.device = "cpu", crop_size: int = 224,
                 amp: bool = True):
        super().__init__(dim=model.config.qformer_config.hidden_size, preset=preset, weights_id=weights_id,
                         device=device, amp=amp)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.tokenizer = tokenizer  # kept only so save_pretrained writes a complete directory
        self.crop_size = crop_size
        self.image_size = int(model.config.vision_config.image_size)
        self.sampling = self.sampling_for(crop_size)

    @classmethod
    def tiny(cls, seed: int = 0, device: str | torch.device = "cpu") -> Blip2Extractor:
        """Random seeded tiny model (dim 32)."""
        model, tokenizer = build_tiny_blip2(seed)
        return cls(model, tokenizer, preset="tiny", weights_id=tiny_weights_id(seed), device=device)

    @classmethod
    def from_pretrained(cls, weights_dir: str | os.PathLike | None = None, preset: str = "paper",
                        device: str | torch.device = "cpu") -> Blip2Extractor:
        """Load from `<weights_dir>/<DIRS[preset]>` or the HF cache, offline."""
        model, tokenizer, weights_id = load_blip2(preset, weights_dir)
        return cls(model, tokenizer, preset=preset, weights_id=weights_id, device=device)

    def save_pretrained(self, weights_dir: str | os.PathLike) -> Path:
        """`save_pretrained` directory (model + tokenizer) that `from_pretrained` reads."""
        if self.tokenizer is None:
            raise ValueError("blip2: this extractor was built without a tokenizer; pass one to save a loadable directory")
        return save_blip2(self.model, self.tokenizer, self.preset, weights_dir)

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        m = self.model
        image_embeds = m.vision_model(pixel_values=batch).last_hidden_state  # (B, patches + 1, vision width)
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        queries = m.query_tokens.expand(image_embeds.shape[0], -1, -1)  # (B, 32, hidden)
        out = m.qformer(query_embeds=queries, encoder_hidden_states=image_embeds,
                        encoder_attention_mask=image_mask).last_hidden_state  # (B, 32, hidden)
        return out[:, 0, :]  # (B, hidden)


class Blip2TextEncoder(TextEncoder):
    """Q-Former text encoder: token outputs of every valid token ([CLS] and [SEP] included), N x 768.

    Queries go through LAVIS' caption text processing first (`blip_caption_text`). `pooled` is the
    [CLS] token's output, which the public release stored as `pooler_output`. Only the text
    embeddings and the Q-Former are kept; the vision tower of the model passed in is not.
    """

    name = "blip2"
    version = "1"

    def __init__(self, model: Blip2ForImageTextRetrieval, tokenizer: PreTrainedTokenizerBase, *, preset: str,
                 weights_id: str, device: str | torch.device = "cpu", amp: bool = True):
        super().__init__(dim=model.config.qformer_config.hidden_size, preset=preset, weights_id=weights_id,
                         device=device, amp=amp)
        self.embeddings = model.embeddings.eval().requires_grad_(False).to(self.device)
        self.qformer = model.qformer.eval().requires_grad_(False).to(self.device)
        self.tokenizer = tokenizer
        self.max_length = int(model.config.qformer_config.max_position_embeddings)

    @classmethod
    def tiny(cls, seed: int = 0, device: str | torch.device = "cpu") -> Blip2TextEncoder:
        """Random seeded tiny model (dim 32), same weights as `Blip2Extractor.tiny(seed)`."""
        model, tokenizer = build_tiny_blip2(seed)
        return cls(model, tokenizer, preset="tiny", weights_id=tiny_weights_id(seed), device=device)

    @classmethod
    def from_pretrained(cls, weights_dir: str | os.PathLike | None = None, preset: str = "paper",
                        device: str | torch.device = "cpu") -> Blip2TextEncoder:
        model, tokenizer, weights_id = load_blip2(preset, weights_dir)
        return cls(model, tokenizer, preset=preset, weights_id=weights_id, device=device)

    def encode_text(self, queries: list[str], batch_size: int = 64) -> list[TextFeatures]:
        """Encode queries; tokens [n_valid, dim] and pooled ([CLS]) [dim], float32."""
        check_queries(self.name, queries)
        out: list[TextFeatures] = []
        for start in range(0, len(queries), batch_size):
            texts = [blip_caption_text(q) for q in queries[start:start + batch_size]]
            enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
            n_valid = enc["attention_mask"].sum(dim=1).tolist()
            with torch.inference_mode(), self._autocast():
                ids, mask = self._to_device(enc["input_ids"]), self._to_device(enc["attention_mask"])
                states = self.qformer(query_embeds=self.embeddings(input_ids=ids), query_length=0,
                                      attention_mask=mask).last_hidden_state  # (B, L, hidden)
            states = states.float().cpu().numpy()
            for i, n in enumerate(n_valid):
                out.append(TextFeatures(tokens=states[i, :n].copy(), pooled=states[i, 0].copy()))
        return out
