"""Captions for training: the frozen MiniLM encodings of every distinct caption, cached once.

``text_cache`` encodes a data set's captions with ``avgen.text.TextEncoder`` and keeps them in
OUT/cache (shared by the audio, video and LoRA trainers); ``CaptionIndex`` maps each clip to its
captions' rows; ``caption_vocabulary`` lists the prompt-parser phrases the captions use (what a
model card's ``## Vocabulary`` section holds).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from avgen.train.common import cached_tensors

MAX_TEXT_TOKENS = 64


def encode_captions(
    encoder: Any, captions: list[str], *, batch: int = 64, quiet: bool = True
) -> dict[str, torch.Tensor]:
    """Encode captions with a frozen ``avgen.text.TextEncoder``: tokens (N, L, D) fp16 padded to
    the longest caption, mask (N, L) bool, pooled (N, D) fp32, all on the CPU."""
    toks, masks, pooled = [], [], []
    for s in tqdm(range(0, len(captions), batch), desc="text cache", disable=quiet):
        e = encoder.encode(captions[s : s + batch], max_length=MAX_TEXT_TOKENS)
        toks.append(e["tokens"].cpu())
        masks.append(e["mask"].cpu())
        pooled.append(e["pooled"].float().cpu())
    length = max(t.shape[1] for t in toks)
    tokens = torch.zeros(len(captions), length, encoder.dim, dtype=torch.float16)
    mask = torch.zeros(len(captions), length, dtype=torch.bool)
    row = 0
    for t, m in zip(toks, masks):
        tokens[row : row + t.shape[0], : t.shape[1]] = t.half()
        mask[row : row + t.shape[0], : t.shape[1]] = m
        row += t.shape[0]
    return {"tokens": tokens, "mask": mask, "pooled": torch.cat(pooled)}


def text_cache(
    data: Any, out: Path, accelerator: Any, quiet: bool, batch: int = 64
) -> dict[str, torch.Tensor]:
    """Every distinct caption of ``data.unique_captions`` encoded once with the bundled MiniLM,
    cached in OUT/cache (keyed by the captions) and shared by the audio, video and LoRA trainers.
    ``batch`` only changes padding, i.e. the encodings in their last fp16 bit."""
    key = hashlib.sha256("\n".join(data.unique_captions).encode()).hexdigest()[:16]
    path = out / "cache" / f"text_{key}.safetensors"

    def make() -> dict[str, torch.Tensor]:
        from avgen.text import TextEncoder

        encoder = TextEncoder.from_default()
        return encode_captions(encoder, data.unique_captions, batch=batch, quiet=quiet)

    return cached_tensors(accelerator, path, make)


def gather_text(cache: dict[str, torch.Tensor], ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """The cached encodings of captions ``ids``, trimmed to the batch's longest caption."""
    mask = cache["mask"][ids]  # (B, Lmax)
    length = max(1, int(mask.sum(1).max()))
    return {
        "tokens": cache["tokens"][ids, :length].float(),  # (B, L, D)
        "mask": mask[:, :length].clone(),
        "pooled": cache["pooled"][ids].float(),  # (B, D)
    }


class CaptionIndex:
    """Every clip's captions as ids into the sorted distinct captions (what ``text_cache``
    encodes); a training step draws one caption per clip."""

    def index_captions(self, captions: list[list[str]]) -> None:
        self.captions = captions
        self.unique_captions = sorted({c for caps in captions for c in caps})
        index = {c: j for j, c in enumerate(self.unique_captions)}
        self.caption_ids = [[index[c] for c in caps] for caps in captions]

    def random_captions(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        picks = []
        for i in idx.tolist():
            ids = self.caption_ids[i]
            picks.append(ids[int(torch.randint(len(ids), (1,), generator=gen))])
        return torch.tensor(picks)


def caption_vocabulary(captions: list[str]) -> list[str]:
    """The prompt-parser phrases (avgen.vocab's words) that occur in the training captions:
    what a model card's ``## Vocabulary`` section lists for the prompt linter."""
    from avgen.prompts import LEXICON, _phrase

    longest = max(len(p) for p in LEXICON)
    grams: set[tuple[str, ...]] = set()
    for caption in set(captions):
        words = _phrase(caption)
        for n in range(1, longest + 1):
            grams.update(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return sorted(" ".join(p) for p in LEXICON if p in grams and p not in {("a",), ("an",)})
