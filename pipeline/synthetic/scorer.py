"""Caption-frame similarity with the BLIP-2 stage-1 model (Blip2ForImageTextRetrieval): ITM probability or ITC cosine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from transformers import (
    Blip2Config,
    Blip2ForImageTextRetrieval,
    PreTrainedTokenizerBase,
)

from pipeline.common.device import resolve_device
from pipeline.extractors.base import seeded, tiny_weights_id
from pipeline.extractors.blip2 import (
    blip_caption_text,
    build_tiny_blip2,
    build_tiny_tokenizer,
    load_blip2,
)
from pipeline.extractors.captioner import frames_to_pixels


class CaptionFrameScorer:
    """Scores (frame, caption) pairs with BLIP-2's matching heads, as LAVIS' `Blip2Qformer` does.

    * "itm": the image-text matching head: the 32 query tokens and the caption's tokens go through
      the Q-Former together (queries cross-attend to the frame), the head's 2-way logits are
      averaged over the query positions, and the score is softmax(...)[1], a probability in [0, 1].
    * "itc": the contrastive similarity: cosine of each projected query output with the projected
      caption [CLS] output, max over the 32 queries, in [-1, 1].

    Frames go through the BLIP-2 feature preprocessing (centre crop `crop_size`, resize to the
    vision input, CLIP mean/std); captions through LAVIS' caption text processing
    (`blip_caption_text`), cut to `max_text_tokens` tokens.
    """

    def __init__(self, model: Blip2ForImageTextRetrieval, tokenizer: PreTrainedTokenizerBase, *,
                 method: Literal["itm", "itc"], preset: str, weights_id: str, device: str | torch.device = "cpu",
                 crop_size: int = 224, max_text_tokens: int = 32, amp: bool = True):
        if method not in ("itm", "itc"):
            raise ValueError(f"unknown scorer {method!r}; expected 'itm' or 'itc'")
        if preset != "paper" and not weights_id.startswith(("tiny:", "random:")):
            raise ValueError(f"a {preset} scorer has random weights: its weights_id must start with 'tiny:' or "
                             f"'random:' (got {weights_id!r})")
        self.method, self.preset, self.weights_id = method, preset, weights_id
        self.device = resolve_device(device)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.tokenizer = tokenizer
        self.crop_size, self.max_text_tokens, self.amp = crop_size, max_text_tokens, amp
        self.image_size = int(model.config.vision_config.image_size)

    @classmethod
    def tiny(cls, method: Literal["itm", "itc"] = "itm", seed: int = 0, device: str | torch.device = "cpu",
             **kwargs) -> CaptionFrameScorer:
        """The tiny BLIP-2 retrieval model of `pipeline.extractors.blip2` (same weights as its tiny extractor)."""
        model, tokenizer = build_tiny_blip2(seed)
        return cls(model, tokenizer, method=method, preset="tiny", weights_id=tiny_weights_id(seed), device=device,
                   **kwargs)

    @classmethod
    def from_pretrained(cls, weights_dir: str | os.PathLike | None = None, preset: str = "paper",
                        method: Literal["itm", "itc"] = "itm", device: str | torch.device = "cpu",
                        **kwargs) -> CaptionFrameScorer:
        """Salesforce/blip2-itm-vit-g from `weights_dir` or the HF cache, loaded as the BLIP-2 extractor loads it."""
        model, tokenizer, weights_id = load_blip2(preset, weights_dir)
        return cls(model, tokenizer, method=method, preset=preset, weights_id=weights_id, device=device, **kwargs)

    @classmethod
    def random_paper(cls, method: Literal["itm", "itc"] = "itm", seed: int = 0, device: str | torch.device = "cpu",
                     **kwargs) -> CaptionFrameScorer:
        """The paper's architecture (ViT-g/14 + 12-layer Q-Former) with random weights, for benchmarks."""
        with seeded(seed):
            model = Blip2ForImageTextRetrieval(Blip2Config(num_query_tokens=32, image_text_hidden_size=256,
                                                           qformer_config={"use_qformer_text_input": True}))
        return cls(model, build_tiny_tokenizer(), method=method, preset="random-paper",
                   weights_id=f"random:blip2-itm-vit-g-arch:seed{seed}", device=device, **kwargs)

    def describe(self) -> dict[str, object]:
        return {"scorer": self.method, "preset": self.preset, "weights_id": self.weights_id,
                "crop_size": self.crop_size, "image_size": self.image_size, "max_text_tokens": self.max_text_tokens}

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type != "cuda" or not self.amp:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    def score(self, frames: Sequence[np.ndarray], captions: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Similarity of each frame with its caption (pairs: frames[i] with captions[i]).

        Args:
            frames: uint8 RGB frames [H, W, 3] or [1, H, W, 3].
            captions: one caption per frame.
            batch_size: pairs per network call.

        Returns:
            float64 [n]: ITM probabilities in [0, 1] or ITC cosines in [-1, 1].
        """
        if len(frames) != len(captions):
            raise ValueError(f"score needs one caption per frame (got {len(frames)} frames, {len(captions)} captions)")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
        out = []
        for start in range(0, len(frames), batch_size):
            texts = [blip_caption_text(c) for c in captions[start:start + batch_size]]
            enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_text_tokens,
                                 return_tensors="pt")
            with torch.inference_mode(), self._autocast():
                pixels = frames_to_pixels(frames[start:start + batch_size], self.crop_size, self.image_size, self.device)
                ids, mask = enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)
                image_embeds = self.model.vision_model(pixel_values=pixels).last_hidden_state  # (B, patches + 1, Dv)
                sims = self._itm(image_embeds, ids, mask) if self.method == "itm" else self._itc(image_embeds, ids, mask)
            out.append(sims.float().cpu().numpy().astype(np.float64))
        return np.concatenate(out) if out else np.zeros(0, np.float64)

    def _itm(self, image_embeds: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = self.model
        queries = m.query_tokens.expand(image_embeds.shape[0], -1, -1)  # (B, Q, H)
        n_q = queries.shape[1]
        embeds = m.embeddings(input_ids=ids, query_embeds=queries)  # (B, Q + N, H)
        attention = torch.cat([torch.ones(mask.shape[0], n_q, dtype=mask.dtype, device=mask.device), mask], dim=1)
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        states = m.qformer(query_embeds=embeds, query_length=n_q, attention_mask=attention,
                           encoder_hidden_states=image_embeds, encoder_attention_mask=image_mask).last_hidden_state
        logits = m.itm_head(states[:, :n_q, :].to(m.itm_head.weight.dtype)).mean(dim=1)  # (B, 2)
        return logits.float().softmax(dim=-1)[:, 1]

    def _itc(self, image_embeds: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = self.model
        queries = m.query_tokens.expand(image_embeds.shape[0], -1, -1)  # (B, Q, H)
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        q = m.qformer(query_embeds=queries, encoder_hidden_states=image_embeds,
                      encoder_attention_mask=image_mask).last_hidden_state  # (B, Q, H)
        text = m.qformer(query_embeds=m.embeddings(input_ids=ids), query_length=0,
                         attention_mask=mask).last_hidden_state[:, 0, :]  # (B, H)
        img = F.normalize(m.vision_projection(q).float(), dim=-1)  # (B, Q, E)
        txt = F.normalize(m.text_projection(text).float(), dim=-1)  # (B, E)
        return torch.einsum("bqe,be->bq", img, txt).max(dim=1).values  # (B,)
