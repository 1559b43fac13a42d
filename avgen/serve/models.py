"""The models a server offers, by name: ``--model NAME=DIR`` (repeatable) plus the shipped ones.

A client chooses a model or an adapter by its name; the folder never leaves the server and
nothing a client sends becomes a path. The kind of a folder (audio model, video model, LoRA
adapter) is read from the files in it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from avgen.errors import AvgenError

DEFAULT = "default"
KINDS = ("audio", "video", "adapter")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_AUDIO_DIFFUSERS = ("AudioLDM", "StableAudio", "AvgenAudio")


@dataclass(frozen=True)
class ModelEntry:
    """One offered model: ``folder`` None means the shipped model of that kind."""

    name: str
    kind: str
    folder: Path | None


def folder_kind(folder: Path) -> str:
    """ "audio", "video" or "adapter" from the folder's files; AvgenError when none fits."""
    from avgen.pipelines.engines import VIDEO_CLASSES

    if (folder / "avgen_adapter.json").is_file() or (folder / "adapter_config.json").is_file():
        return "adapter"
    index = folder / "model_index.json"
    config = folder / "pipeline.json"
    try:
        if index.is_file():
            name = str(json.loads(index.read_text()).get("_class_name", ""))
            return "audio" if name.startswith(_AUDIO_DIFFUSERS) else "video"
        if config.is_file():
            name = str(json.loads(config.read_text()).get("_class", ""))
            if name == "TextToAudioPipeline":
                return "audio"
            if name in VIDEO_CLASSES:  # avgen's video engines (DiT, Phenaki)
                return "video"
    except (OSError, ValueError, AttributeError) as exc:
        raise AvgenError(f"cannot read the model folder {folder}: {exc}.") from exc
    raise AvgenError(
        f"{folder} is not an audio model, video model or LoRA adapter folder "
        "(no pipeline.json, model_index.json or avgen_adapter.json)."
    )


def shipped_models() -> list[ModelEntry]:
    """The shipped audio and video models (name "default") and shipped adapters."""
    from importlib import resources

    entries = [ModelEntry(DEFAULT, "audio", None), ModelEntry(DEFAULT, "video", None)]
    adapters = Path(str(resources.files("avgen") / "models" / "adapters"))
    if adapters.is_dir():
        for folder in sorted(adapters.iterdir()):
            if (folder / "avgen_adapter.json").is_file():
                entries.append(ModelEntry(folder.name, "adapter", folder))
    return entries


def parse_model_flags(flags: list[str] | None, *, shipped: bool = True) -> list[ModelEntry]:
    """``NAME=DIR`` flags (plus the shipped models unless ``shipped`` is False) as entries; a
    flag's name replaces a shipped model of the same kind and name."""
    given: list[ModelEntry] = []
    for flag in flags or []:
        name, sep, folder = str(flag).partition("=")
        if not sep or not folder:
            raise AvgenError(f"--model takes NAME=DIR, got {flag!r}.")
        if not _NAME.match(name):
            raise AvgenError(
                f"model name {name!r} must be 1 to 64 letters, digits, '.', '_' or '-'."
            )
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise AvgenError(f"--model {name}={folder}: no such folder.")
        kind = folder_kind(path)
        if any(e.name == name and e.kind == kind for e in given):
            raise AvgenError(f"--model names the {kind} model {name!r} twice.")
        given.append(ModelEntry(name, kind, path.resolve()))
    base = shipped_models() if shipped else []
    kept = [e for e in base if not any(g.name == e.name and g.kind == e.kind for g in given)]
    return kept + given


class ModelRegistry:
    """Look up an offered model by kind and name."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        self.entries = list(entries)

    def names(self, kind: str) -> list[str]:
        return [e.name for e in self.entries if e.kind == kind]

    def get(self, kind: str, name: str) -> ModelEntry:
        for entry in self.entries:
            if entry.kind == kind and entry.name == name:
                return entry
        offered = ", ".join(self.names(kind)) or "none"
        what = "adapter" if kind == "adapter" else f"{kind} model"
        raise AvgenError(f"this server offers no {what} named {name!r}; offered: {offered}.")

    def default(self, kind: str) -> str | None:
        names = self.names(kind)
        return DEFAULT if DEFAULT in names else (names[0] if names else None)
