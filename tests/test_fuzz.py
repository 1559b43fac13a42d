"""Property-based fuzzing of every input avgen reads from a user (issue 18).

Prompts from any Unicode (control and digit characters included), up to 100,000 characters;
numbers of any size and sign; hand-edited sidecars. The property, for the parser, the linter,
the builders, the API's checks and the sidecar reader: a result or avgen's own AvgenError,
never another exception; every number in a result finite; every JSON output standard
(``json.dumps(..., allow_nan=False)``). Seeded (``derandomize``), so a run is repeatable;
``benchmarks/fuzz_inputs.py`` runs the same targets with 10,000 inputs each.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avgen import api
from avgen.errors import AvgenError
from avgen.prompts import LEXICON, build_audio_prompt, build_video_prompt, lint_prompt, parse_prompt
from avgen.ranges import RANGES, check_range
from avgen.sidecar import read_sidecar

#: Inputs per target: 40 in the suite; benchmarks/fuzz_inputs.py sets AVGEN_FUZZ_EXAMPLES.
EXAMPLES = int(os.environ.get("AVGEN_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
#: How many generated inputs each target has run, and how many calls they made (the benchmark
#: reads both).
INPUTS: dict[str, int] = {}
CALLS: dict[str, int] = {}


def ran(name: str) -> None:
    INPUTS[name] = INPUTS.get(name, 0) + 1


# ----------------------------------------------------------------------------- strategies

_WORDS = sorted({w for phrase in LEXICON for w in phrase})
_UNITS = ["bpm", "BPM", "beats per minute", "seconds", "s", "sec", "minutes", "min", "-second"]


def _number_text(n: int | float, digits: int) -> str:
    """A number as a prompt spells it: an int, a float, or a run of ``digits`` digits."""
    if digits:
        return ("-" if n < 0 else "") + "1" * digits
    if isinstance(n, float):
        return repr(n)
    return str(n) if abs(n) < 10**4000 else "9" * 4000


numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(allow_nan=True, allow_infinity=True),
)
number_words = st.builds(
    lambda n, digits, unit, gap: f"{_number_text(n, digits)}{gap}{unit}",
    numbers,
    st.sampled_from([0, 0, 0, 7, 400, 5000]),
    st.sampled_from(_UNITS + [""]),
    st.sampled_from([" ", "", "-", " - ", "  "]),
)
# Any Unicode but surrogates: letters, marks, digits of every script ("²", "٣", "Ⅻ"), controls.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
digit_text = st.text(st.characters(categories=("Nd", "No", "Nl", "Cc", "Zs", "Pd")), max_size=200)
soup = st.lists(
    st.one_of(st.sampled_from(_WORDS), number_words, st.sampled_from(list(",;.!? -\n\t\x00"))),
    max_size=60,
).map(" ".join)


@st.composite
def long_text(draw: st.DrawFn) -> str:
    """A piece of text repeated up to 100,000 characters."""
    piece = draw(st.one_of(soup, any_text).filter(lambda s: s != ""))
    size = draw(st.sampled_from([1_000, 10_000, 100_000]))
    return (piece * (size // len(piece) + 1))[:size]


prompts = st.one_of(any_text, digit_text, soup, soup, long_text())
values = st.one_of(
    numbers, st.none(), st.booleans(), any_text, st.lists(st.integers(), max_size=3), st.binary()
)

# ----------------------------------------------------------------------------- properties


def standard(result: Any) -> Any:
    """``result`` as JSON: every number finite, nothing but standard JSON."""
    data = result.to_dict() if hasattr(result, "to_dict") else result

    def walk(x: Any) -> None:
        if isinstance(x, float):
            assert math.isfinite(x), data
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list | tuple):
            for v in x:
                walk(v)

    walk(data)
    json.dumps(data, allow_nan=False)
    return data


def result_or_avgen_error(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``: a result (checked by ``standard``) or None for an AvgenError;
    any other exception fails the test."""
    CALLS[name] = CALLS.get(name, 0) + 1
    try:
        result = fn(*args, **kwargs)
    except AvgenError as exc:
        assert str(exc).strip(), "an AvgenError must say what is wrong"
        return None
    return standard(result) if result is not None else None


# ----------------------------------------------------------------------------- targets


@FUZZ
@given(text=prompts)
def test_parser(text: str) -> None:
    ran("parser")
    result_or_avgen_error("parser", parse_prompt, text)


@FUZZ
@given(text=prompts, kind=st.sampled_from([None, "audio", "video", "av"]))
def test_linter(text: str, kind: str | None) -> None:
    ran("linter")
    result_or_avgen_error("linter", lint_prompt, text, kind=kind)


@FUZZ
@given(
    layers=st.lists(st.one_of(prompts, values), min_size=4, max_size=4),
    duration=st.one_of(st.none(), values),
    tempo=st.one_of(st.none(), values),
)
def test_builders(layers: list[Any], duration: Any, tempo: Any) -> None:
    ran("builders")
    a, b, c, d = layers
    result_or_avgen_error("builders", build_audio_prompt, a, b, duration, tempo)
    result_or_avgen_error("builders", build_video_prompt, b, c, d)


@FUZZ
@given(
    prompt=st.one_of(prompts, values),
    flag=st.one_of(st.none(), values),
    name=st.sampled_from(sorted(RANGES)),
    value=values,
    option=st.sampled_from(["num_inference_steps", "guidance_scale", "batch", "seed", "preview"]),
)
def test_api_checks(prompt: Any, flag: Any, name: str, value: Any, option: str) -> None:
    ran("api checks")
    result_or_avgen_error("api checks", api.check_prompt, prompt)
    result_or_avgen_error("api checks", api.check_duration, flag)
    result_or_avgen_error("api checks", check_range, name, value)
    if isinstance(prompt, str):
        result_or_avgen_error("api checks", api.resolve_duration, prompt, flag)
        result_or_avgen_error("api checks", api.check_prompt_tempo, prompt)
    options = api.GenerationOptions(duration_s=flag)
    setattr(options, option, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result_or_avgen_error("api checks", lambda: api.check_options(options).to_dict())


_SIDECAR = {
    "format": 1,
    "output": "a.wav",
    "command": "audio",
    "prompt": "piano",
    "parsed_prompt": None,
    "seed": 0,
    "settings": {"num_inference_steps": 2, "guidance_scale": 5.0, "audio_length_in_s": 1.0},
    "model_id": "avgen/audio",
}
json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text, st.just("..")
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def sidecars(draw: st.DrawFn) -> bytes:
    """A sidecar with a few fields or settings edited, or bytes that are no sidecar at all."""
    kind = draw(st.sampled_from(["edited", "edited", "edited", "bytes", "text"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "text":
        return draw(st.one_of(any_text, soup)).encode("utf-8", "surrogatepass")
    record = json.loads(json.dumps(_SIDECAR))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*_SIDECAR, "unknown"]))
        if draw(st.booleans()):
            setting = draw(st.sampled_from([*_SIDECAR["settings"], "model", "prompt", "seed"]))
            if isinstance(record.get("settings"), dict):
                record["settings"][setting] = draw(json_values)
        elif draw(st.integers(0, 5)) == 0:
            record.pop(key, None)
        else:
            record[key] = draw(json_values)
    text = json.dumps(record)
    if draw(st.integers(0, 9)) == 0:  # what json.dumps would never write
        text = text.replace('"seed": 0', draw(st.sampled_from(['"seed": NaN', '"seed": 1e999'])))
    return text.encode()


def _check_only(function: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> list[Path]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args, check_only=True, **kwargs)

    return checked


def checking_only() -> pytest.MonkeyPatch:
    """``rerun`` checks a sidecar fully (the model loaded, its inputs checked) but writes
    nothing: the generators run with ``check_only``, the demo is not rendered; undo() ends it."""
    patch = pytest.MonkeyPatch()
    patch.setattr(api, "text_to_audio", _check_only(api.text_to_audio))
    patch.setattr(api, "text_to_video", _check_only(api.text_to_video))
    patch.setattr(api, "render_demo", lambda *a, **k: Path("demo.mp4"))
    return patch


@pytest.fixture(scope="module")
def no_generation() -> Any:
    patch = checking_only()
    yield
    patch.undo()


@FUZZ
@given(raw=sidecars())
def test_sidecar_reader(no_generation: Any, raw: bytes) -> None:
    ran("sidecar reader")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out" / "a.wav.json"
        path.parent.mkdir()
        path.write_bytes(raw)
        record = result_or_avgen_error("sidecar reader", read_sidecar, path)
        if record is not None:
            paths = result_or_avgen_error("sidecar reader", api.rerun, path)
            for written in paths or []:  # rerun wrote nothing outside the sidecar's folder
                assert Path(written).parent in (path.parent, Path("."))
        assert [p.name for p in Path(folder).iterdir()] == ["out"]  # nothing climbed out
        assert {p.name for p in path.parent.iterdir()} <= {"a.wav.json"}  # nothing written
