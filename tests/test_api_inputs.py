"""avgen.api with arguments of the wrong type or absurd size: one AvgenError, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from avgen import api
from avgen.errors import AvgenError


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"num_inference_steps": [20]}, "steps must be a whole number"),
        ({"num_inference_steps": float("inf")}, "steps must be a whole number"),
        ({"guidance_scale": "x"}, "guidance must be a number"),
        ({"guidance_scale": 10**400}, "guidance must be between 0 and 50"),
        ({"audio_length_in_s": 10**400}, "duration must be more than 0"),
        ({"strength": [1]}, "strength must be a number"),
        ({"model": [1]}, "model must be a file or folder path"),
        ({"negative_prompt": 3}, "negative_prompt must be text"),
        ({"preview": "yes"}, "preview must be True or False"),
        ({"seed": -(10**400)}, "a negative number of about 401 digits"),
    ],
)
def test_text_to_audio_checks_types_first(tmp_path: Path, kwargs: dict, words: str) -> None:
    with pytest.raises(AvgenError) as err:
        api.text_to_audio("piano", tmp_path / "a.wav", **kwargs)
    assert words in str(err.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"duration_s": 10**400}, "duration must be more than 0"),
        ({"init_image": [1]}, "init_image must be a file or folder path"),
        ({"extend": 3}, "extend must be a file or folder path"),
        ({"guidance_scale": [1]}, "guidance must be a number"),
    ],
)
def test_text_to_video_checks_types_first(tmp_path: Path, kwargs: dict, words: str) -> None:
    with pytest.raises(AvgenError) as err:
        api.text_to_video("a red ball", tmp_path / "v.mp4", **kwargs)
    assert words in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_the_prompts_tempo_is_checked_before_generating(tmp_path: Path) -> None:
    with pytest.raises(AvgenError, match="the prompt's tempo must be more than 0 and at most 300"):
        api.text_to_audio("piano at 400 BPM", tmp_path / "a.wav", num_inference_steps=2)
    assert not (tmp_path / "a.wav").exists()
    with pytest.raises(AvgenError, match="the prompt's tempo"):
        api.plan_audio("piano at 301 BPM")


def test_check_only_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "a.wav"
    assert api.text_to_audio("piano", out, num_inference_steps=2, check_only=True) == []
    assert not out.exists()


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda d: api.render_demo(d / "demo.mp4", upscale="x"), "upscale must be"),
        (lambda d: api.render_demo(d / "demo.mp4", upscale=10**30), "upscale must be"),
        (lambda d: api.render_demo(d / "demo.mp4", seed=-1), "seed must be"),
        (lambda d: api.plan_audio(None, melody=[1]), "melody must be a file or folder path"),
        (lambda d: api.lint_prompt("piano", model=[1]), "model must be a file or folder path"),
        (lambda d: api.check_file(None, "a red ball"), "path must be a file or folder path"),
        (lambda d: api.make_world_dataset("audio", 1, None), "out must be a file or folder path"),
        (
            lambda d: api.make_world_dataset("audio", 1, d / "w", instruments=-1),
            "instruments must be a list of instrument names",
        ),
        (lambda d: api.text_to_audio("piano", [1]), "output must be a file path"),
    ],
)
def test_other_entry_points_check_types_first(tmp_path: Path, call, words: str) -> None:
    with pytest.raises(AvgenError) as err:
        call(tmp_path)
    assert words in str(err.value)
    assert list(tmp_path.iterdir()) == []
