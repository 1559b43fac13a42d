"""Config-is-the-constructor save/load for avgen models (diffusers' ``register_to_config``).

Each model subclasses ``PretrainedModel`` and names a dataclass ``config_class`` (a
``ModelConfig``, nanoGPT's ``GPTConfig``) whose fields are its constructor's arguments: build it
as ``Model(Config(...))`` or ``Model(**fields)``. ``save_pretrained(dir)`` writes ``config.json``
(the fields plus the class name) and ``model.safetensors``; ``from_pretrained(dir)`` rebuilds the
class from the config and loads the weights. No pickles: configs are JSON and weights are
safetensors, so a foreign or corrupt folder fails with one clear ``AvgenError`` instead of running
code. Config keys renamed since avgen 0.1 (``RENAMED_KEYS``) are read under their new names
wherever a config is read (config.json, keyword arguments, training metadata).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from avgen import __version__
from avgen.errors import AvgenError
from avgen.files import atomic_path, json_text
from avgen.ranges import spell

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"

# model class -> {avgen 0.1 config key: today's key}; one naming for both media
RENAMED_KEYS: dict[str, dict[str, str]] = {
    "AudioDenoiser": {
        "patch": "patch_size",
        "dim": "hidden_size",
        "depth": "num_layers",
        "heads": "num_heads",
    },
    "VideoDiT": {"depth": "num_layers"},
    "MelVAE": {"channels": "block_out_channels", "blocks_per_level": "layers_per_block"},
    "VideoVAE": {"num_res_blocks": "layers_per_block"},
    "Vocoder": {"dim": "hidden_size", "depth": "num_layers", "mlp_mult": "mlp_ratio"},
    "CLAP": {"channels": "block_out_channels"},
}

# load_state_dict's size-mismatch text: the tensor's name and its shape in the weights
_SHAPE_RE = re.compile(r"for (\S+): copying a param with shape torch.Size\((\[.*?\])\)")
T = TypeVar("T", bound="PretrainedModel")
C = TypeVar("C", bound="ModelConfig")


def upgrade_config(class_name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with the keys ``RENAMED_KEYS[class_name]`` lists renamed to today's names."""
    renamed = RENAMED_KEYS.get(class_name, {})
    out: dict[str, Any] = {}
    for key, value in config.items():
        new = renamed.get(key, key)
        if new in out:
            raise AvgenError(
                f"the {class_name} config gives both {new!r} and its old name "
                f"{next(k for k, v in renamed.items() if v == new)!r}; keep {new!r}."
            )
        out[new] = value
    return out


def _fits(value: Any, hint: Any) -> bool:
    """``value`` (read from JSON or given as a keyword) has the type a config field declares:
    bool, int (not bool), float (an int or float, finite), str, tuple[...] (a list or tuple)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(v, args[0]) for v in value)
        return len(value) == len(args) and all(map(_fits, value, args))
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    return True  # a type this check does not know: left to the model


def _describe(hint: Any) -> str:
    """A field type in words: "a whole number", "a list of 3 numbers", ..."""
    words = {bool: "true or false", int: "a whole number", float: "a finite number", str: "text"}
    if hint in words:
        return words[hint]
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and args:
        item = _describe(args[0]).removeprefix("a ").removeprefix("finite ")
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {item}s"
        return f"a list of {len(args)} {item}s"
    return str(hint)


@dataclasses.dataclass
class ModelConfig(Mapping[str, Any]):
    """Base of the models' dataclass configs: the constructor's arguments, JSON-ready.

    ``model_name`` is the model class the config belongs to (``config.json``'s ``_class``).
    Lists become tuples (so a config read from JSON equals the one it was written from). It
    also reads as a mapping of its fields (``config["n_mels"]``, ``dict(config)``,
    ``Model(**config)``).
    """

    model_name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            hint = hints.get(field.name)
            if hint is not None and not _fits(value, hint):
                raise AvgenError(
                    f"the {self.model_name or type(self).__name__} config's {field.name!r} must "
                    f"be {_describe(hint)}, got {spell(value)}."
                )
            if isinstance(value, list):
                setattr(self, field.name, tuple(value))

    @classmethod
    def from_dict(cls: type[C], config: Mapping[str, Any]) -> C:
        """Build from a JSON dict or keyword arguments, old key names accepted."""
        return cls(**upgrade_config(cls.model_name, config))

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-serialisable dict (tuples as lists)."""
        return {
            f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
            for f in dataclasses.fields(self)
        }

    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self))


class PretrainedModel(nn.Module):
    """Base of avgen's own models: JSON config + safetensors weights in one folder."""

    config_class: ClassVar[type[ModelConfig]]
    config: ModelConfig

    def register_config(self, config: ModelConfig | None, kwargs: Mapping[str, Any]) -> Any:
        """Set and return this model's config: ``config`` (a ``config_class``), with any keyword
        arguments (old names accepted) replacing its fields, or the keywords alone."""
        fields = upgrade_config(self.config_class.model_name, kwargs)
        if config is None:
            config = self.config_class(**fields)
        elif not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} takes a {self.config_class.__name__}, "
                f"not a {type(config).__name__}."
            )
        elif fields:
            config = dataclasses.replace(config, **fields)
        self.config = config
        return config

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``folder`` (created if needed)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "_class": type(self).__name__,
            "_avgen_version": __version__,
            **self.config.to_dict(),
        }
        text = json_text(config, what=str(folder / CONFIG_NAME), indent=2)
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        # unique temporary names (concurrent savers never collide); config first, then weights
        with atomic_path(folder / WEIGHTS_NAME) as tmp_w:
            with atomic_path(folder / CONFIG_NAME) as tmp_cfg:
                tmp_cfg.write_text(text)
                meta = {"format": "pt", "class": type(self).__name__}
                save_file(state, str(tmp_w), metadata=meta)
        return folder

    @classmethod
    def load_config(cls, folder: str | Path) -> dict[str, Any]:
        """Read and validate ``config.json`` (keys under today's names); raise AvgenError if
        it is not this class's."""
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
        fields = {k: v for k, v in config.items() if not k.startswith("_")}
        fields = upgrade_config(cls.config_class.model_name, fields)
        known = {f.name for f in dataclasses.fields(cls.config_class)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise AvgenError(
                f"{path} does not fit {cls.__name__}: unknown field {spell(unknown[0])} "
                f"(its fields: {', '.join(sorted(known))})."
            )
        return fields

    @classmethod
    def from_pretrained(
        cls: type[T], folder: str | Path, *, device: str | torch.device = "cpu"
    ) -> T:
        """Rebuild the model from ``folder`` and load its weights (strict)."""
        config = cls.load_config(folder)
        path = Path(folder) / CONFIG_NAME
        try:
            model = cls(**config)
        except AvgenError as exc:  # a field of the wrong type or out of the model's range
            raise AvgenError(f"{path}: {exc}") from None
        except (TypeError, ValueError, RuntimeError, ZeroDivisionError) as exc:
            raise AvgenError(f"{path} does not fit {cls.__name__}: {exc}.") from None
        weights = Path(folder) / WEIGHTS_NAME
        if not weights.is_file():
            raise AvgenError(f"{weights} is missing.")
        try:
            state = load_file(str(weights), device=str(device))
        except Exception as exc:  # safetensors raises several types for corrupt files
            raise AvgenError(f"{weights} is not a readable safetensors file ({exc}).") from exc
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # a tensor whose shape the config does not give
            m = _SHAPE_RE.search(str(exc))
            what = f"{m.group(1)} is {m.group(2)} in the weights" if m else "a tensor differs"
            raise AvgenError(
                f"{weights} does not fit {path}: {what}, not what the config gives."
            ) from None
        if missing or unexpected:
            raise AvgenError(
                f"{weights} does not match {cls.__name__}: "
                f"{len(missing)} missing and {len(unexpected)} unexpected tensors."
            )
        return model.to(device).eval()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
