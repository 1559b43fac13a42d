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
from avgen.ranges import spell

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


#: A sidecar is a few kilobytes; a larger file is not one (and is not read into memory).
MAX_SIDECAR_BYTES = 16 * 2**20


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """Read and check a sidecar (one that may have been edited by hand); raise AvgenError with
    one sentence naming the file and the bad field when it is missing, not ours or malformed."""
    path = Path(path)
    if not path.is_file():
        raise AvgenError(f"sidecar {path} does not exist.")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        raise AvgenError(f"cannot read sidecar {path}: {exc.strerror or exc}.") from exc
    if len(raw) > MAX_SIDECAR_BYTES:
        raise AvgenError(f"{path} is not a sidecar: it is larger than {MAX_SIDECAR_BYTES} bytes.")
    try:
        record = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # ValueError: JSONDecodeError, NaN/Infinity, an integer over Python's digit limit
        raise AvgenError(f"{path} is not a JSON sidecar ({exc.__class__.__name__}).") from None
    if not isinstance(record, dict) or "command" not in record or "settings" not in record:
        raise AvgenError(f"{path} is not an avgen sidecar (no command or settings recorded).")
    check_record(record, path)
    return record


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not standard JSON")


def check_record(record: dict[str, Any], path: str | Path) -> None:
    """The fields ``rerun`` reads have the types ``write_sidecar`` writes; ``output`` is a
    plain file name (it cannot climb out of the sidecar's folder)."""

    def field(name: str, expected: str, ok: bool) -> None:
        if not ok:
            shown = spell(record.get(name))
            raise AvgenError(f"sidecar {path}: {name!r} must be {expected}, got {shown}.")

    fmt = record.get("format", SIDECAR_FORMAT)
    field("format", f"{SIDECAR_FORMAT}", type(fmt) is int and fmt == SIDECAR_FORMAT)
    field("command", "a command name (text)", isinstance(record["command"], str))
    settings = record["settings"]
    field("settings", "an object of settings", isinstance(settings, dict))
    field("prompt", "text or null", isinstance(record.get("prompt"), str | None))
    seed = record.get("seed")
    field("seed", "a whole number or null", seed is None or type(seed) is int)
    field("model_id", "text or null", isinstance(record.get("model_id"), str | None))
    output = record.get("output")
    if output is not None:
        plain = isinstance(output, str) and output not in ("", ".", "..")
        plain = plain and not any(c in output for c in "/\\\0") and Path(output).name == output
        field("output", "a file name in the sidecar's folder", plain)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a sidecar")
