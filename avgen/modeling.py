"""Config-is-the-constructor save/load for avgen models (diffusers' ``register_to_config``).

A model subclasses ``PretrainedModel`` and calls ``self.register_config(...)`` with its
constructor arguments. ``save_pretrained(dir)`` writes ``config.json`` (the arguments plus the
class name) and ``model.safetensors``; ``from_pretrained(dir)`` rebuilds the class from the
config and loads the weights. No pickles: configs are JSON and weights are safetensors, so a
foreign or corrupt folder fails with one clear ``AvgenError`` instead of running code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from avgen import __version__
from avgen.errors import AvgenError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

T = TypeVar("T", bound="PretrainedModel")


class PretrainedModel(nn.Module):
    """Base of avgen's own models: JSON config + safetensors weights in one folder."""

    config: dict[str, Any]

    def register_config(self, **kwargs: Any) -> None:
        """Record the constructor arguments (JSON-serialisable) as this model's config."""
        self.config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``folder`` (created if needed)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"_class": type(self).__name__, "_avgen_version": __version__, **self.config}
        tmp_cfg = folder / f".{CONFIG_NAME}.tmp"
        tmp_cfg.write_text(json.dumps(config, indent=2) + "\n")
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        tmp_w = folder / f".{WEIGHTS_NAME}.tmp"
        save_file(state, str(tmp_w), metadata={"format": "pt", "class": type(self).__name__})
        tmp_cfg.replace(folder / CONFIG_NAME)
        tmp_w.replace(folder / WEIGHTS_NAME)
        return folder

    @classmethod
    def load_config(cls, folder: str | Path) -> dict[str, Any]:
        """Read and validate ``config.json``; raise AvgenError if it is not this class's."""
        path = Path(folder) / CONFIG_NAME
        if not path.is_file():
            raise AvgenError(f"no {CONFIG_NAME} in {folder}: not an avgen {cls.__name__} folder.")
        try:
            config = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise AvgenError(f"{path} is not valid JSON ({exc.__class__.__name__}).") from exc
        if not isinstance(config, dict) or config.get("_class") != cls.__name__:
            found = config.get("_class") if isinstance(config, dict) else None
            raise AvgenError(
                f"{folder} holds a {found or 'foreign'} checkpoint, not a {cls.__name__}."
            )
        return {k: v for k, v in config.items() if not k.startswith("_")}

    @classmethod
    def from_pretrained(
        cls: type[T], folder: str | Path, *, device: str | torch.device = "cpu"
    ) -> T:
        """Rebuild the model from ``folder`` and load its weights (strict)."""
        config = cls.load_config(folder)
        try:
            model = cls(**config)
        except TypeError as exc:
            raise AvgenError(f"{folder}/{CONFIG_NAME} does not fit {cls.__name__}: {exc}.") from exc
        weights = Path(folder) / WEIGHTS_NAME
        if not weights.is_file():
            raise AvgenError(f"{weights} is missing.")
        try:
            state = load_file(str(weights), device=str(device))
        except Exception as exc:  # safetensors raises several types for corrupt files
            raise AvgenError(f"{weights} is not a readable safetensors file ({exc}).") from exc
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise AvgenError(
                f"{weights} does not match {cls.__name__}: "
                f"{len(missing)} missing and {len(unexpected)} unexpected tensors."
            )
        return model.to(device).eval()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
