"""Reading a plan's JSON form field by field: every refusal is one sentence that names the field
by its path in the plan (``plan.notes[3].pitch``), the value and what is allowed.

Plans are data a user edits by hand, so nothing in one is trusted: types are checked exactly
(``True`` is not a number, ``1.5`` is not a whole number), numbers must be finite, and keys the
schema does not know are refused rather than ignored (a misspelt key would otherwise be lost
silently).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from avgen.errors import AvgenError

#: The version of the plans' JSON form that this avgen writes and reads.
PLAN_VERSION = 1
MAX_PLAN_BYTES = 16 * 1024 * 1024  # a plan file larger than this is not a plan


class PlanError(AvgenError):
    """A plan that does not follow the schema: one sentence naming the field."""


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else f"{value:g}"
    return text if len(text) <= 40 else text[:37] + "..."


def obj(value: Any, path: str, keys: tuple[str, ...], required: tuple[str, ...]) -> dict:
    """``value`` as an object with only ``keys``, holding every key of ``required``."""
    if not isinstance(value, dict):
        raise PlanError(f"{path} must be an object, got {_kind_of(value)}.")
    unknown = sorted(k for k in value if k not in keys)
    if unknown:
        raise PlanError(
            f"{path} has an unknown field {unknown[0]!r}; the fields are {', '.join(keys)}."
        )
    for k in required:
        if k not in value:
            raise PlanError(f"{path}.{k} is missing.")
    return value


def number(
    value: Any, path: str, low: float, high: float, *, whole: bool = False, open_low=False
) -> float:
    """A finite number (a whole one when ``whole``) within ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlanError(f"{path} must be a number, got {_kind_of(value)}.")
    if not math.isfinite(value):
        raise PlanError(f"{path} must be a finite number, got {_short(value)}.")
    if whole and value != int(value):
        raise PlanError(f"{path} must be a whole number, got {_short(value)}.")
    if value < low or value > high or (open_low and value == low):
        bound = "more than" if open_low else "from"
        raise PlanError(f"{path} must be {bound} {low:g} to {high:g}, got {_short(value)}.")
    return int(value) if whole else float(value)


def text(value: Any, path: str, allowed: tuple[str, ...] | None = None, max_len=2000) -> str:
    """A string (one of ``allowed`` when given)."""
    if not isinstance(value, str):
        raise PlanError(f"{path} must be text, got {_kind_of(value)}.")
    if len(value) > max_len:
        raise PlanError(f"{path} is {len(value)} characters long; at most {max_len} are allowed.")
    if allowed is not None and value not in allowed:
        raise PlanError(f"{path} must be one of {', '.join(allowed)}, got {_short(value)}.")
    return value


def items(value: Any, path: str, max_items: int) -> list:
    """A list of at most ``max_items`` entries."""
    if not isinstance(value, list):
        raise PlanError(f"{path} must be a list, got {_kind_of(value)}.")
    if len(value) > max_items:
        raise PlanError(f"{path} has {len(value)} entries; at most {max_items} are allowed.")
    return value


def header(data: Any, kind: str, keys: tuple[str, ...], required: tuple[str, ...]) -> dict:
    """The plan object with its version and kind checked (``avgen_plan`` and ``kind``)."""
    data = obj(data, "plan", ("avgen_plan", "kind", *keys), ("avgen_plan", "kind", *required))
    version = data["avgen_plan"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PlanError(f"plan.avgen_plan must be a plan version number, got {_short(version)}.")
    if version > PLAN_VERSION:
        raise PlanError(
            f"plan.avgen_plan is {version}, a newer plan version than this avgen reads "
            f"({PLAN_VERSION}): upgrade avgen."
        )
    got = data["kind"]
    if got != kind:
        raise PlanError(f"plan.kind must be {kind!r} here, got {_short(got)}.")
    return data


def read_json(source: str | Path | dict) -> dict:
    """A plan as a dict: ``source`` itself, or the JSON file it names (UTF-8, standard JSON)."""
    if isinstance(source, dict):
        return source
    path = Path(source)
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise PlanError(f"plan file {path} is larger than {MAX_PLAN_BYTES // 2**20} MB.")
        raw = path.read_bytes()
    except OSError as e:
        raise PlanError(f"cannot read plan file {path}: {e.strerror or e}.") from e

    def refuse(name: str):
        raise PlanError(f"plan file {path} holds {name}, which is not standard JSON.")

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=refuse)
    except UnicodeDecodeError as e:
        raise PlanError(f"plan file {path} is not UTF-8 text.") from e
    except json.JSONDecodeError as e:
        raise PlanError(f"plan file {path} is not valid JSON ({e.msg}, line {e.lineno}).") from e
    except RecursionError as e:
        raise PlanError(f"plan file {path} is nested too deeply to be a plan.") from e


def write_json(data: dict, path: str | Path, *, overwrite: bool = True) -> None:
    """Write a plan as standard, indented JSON, atomically (``media.atomic_output``); without
    ``overwrite`` an existing file is refused."""
    from avgen.files import json_text
    from avgen.media import atomic_output

    body = json_text(data, what=f"the plan {path}", indent=1)
    with atomic_output(path, overwrite=overwrite) as tmp:
        Path(tmp).write_text(body, encoding="utf-8")
