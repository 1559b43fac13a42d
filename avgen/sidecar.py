"""Output sidecars: ``<output>.json`` beside every generated file, so any result can be redone.

A sidecar records the command that made the output, the prompt, the parsed prompt, the seed,
every setting, the model id and the avgen version. ``avgen rerun out.wav.json`` reads it and
calls the same ``avgen.api`` function with the same arguments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avgen import __version__
from avgen.errors import AvgenError
from avgen.files import json_text, write_text

SIDECAR_FORMAT = 1


def sidecar_path(output: str | Path) -> Path:
    """The sidecar of ``output``: its full name plus ``.json`` (``sax.wav`` -> ``sax.wav.json``)."""
    output = Path(output)
    return output.with_name(output.name + ".json")


def sidecar_text(
    output: str | Path,
    *,
    command: str,
    prompt: str | None,
    seed: int | None,
    settings: dict[str, Any],
    model_id: str | None,
    parsed: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """The sidecar of ``output`` as standard JSON text (AvgenError for a NaN or infinity), so a
    generator can render it before it publishes the output itself."""
    record = {
        "format": SIDECAR_FORMAT,
        "output": Path(output).name,
        "command": command,
        "prompt": prompt,
        "parsed_prompt": parsed,
        "seed": seed,
        "settings": settings,
        "model_id": model_id,
        "avgen_version": __version__,
    }
    if extra:
        record.update(extra)
    return json_text(record, what=f"the sidecar of {output}", indent=2, default=_jsonable)


def write_sidecar(output: str | Path, *, overwrite: bool = True, **fields: Any) -> Path:
    """Write ``<output>.json`` atomically under a unique temporary name and return its path;
    ``fields`` are ``sidecar_text``'s. Without ``overwrite`` an existing sidecar is refused."""
    path = sidecar_path(output)
    return write_text(path, sidecar_text(output, **fields), overwrite=overwrite)


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """Read a sidecar; raise AvgenError with one sentence when it is missing or not ours."""
    path = Path(path)
    if not path.is_file():
        raise AvgenError(f"sidecar {path} does not exist.")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AvgenError(f"{path} is not a JSON sidecar ({exc.__class__.__name__}).") from exc
    if not isinstance(record, dict) or "command" not in record or "settings" not in record:
        raise AvgenError(f"{path} is not an avgen sidecar (no command or settings recorded).")
    return record


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a sidecar")
