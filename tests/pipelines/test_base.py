"""The common pipeline shape, the one table of input ranges and the one text-encoder cache."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from avgen import api
from avgen.errors import AvgenError
from avgen.pipelines import text_to_audio, text_to_video
from avgen.pipelines.base import AudioPipeline, VideoPipeline
from avgen.pipelines.checks import RANGES, check_range
from avgen.pipelines.diffusers_audio import DiffusersAudioPipeline
from avgen.pipelines.diffusers_video import DiffusersVideoPipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tiny_diffusers lives beside us
import tiny_diffusers as tiny  # noqa: E402


def test_every_pipeline_has_the_common_shape(
    tmp_path: Path, one_thread: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api, "_PIPELINES", {})
    audio = [
        api.audio_pipeline(),
        api.audio_pipeline(tiny.build_tiny_audioldm(tmp_path / "audioldm")),
    ]
    video = [api.video_pipeline(), api.video_pipeline(tiny.build_tiny_wan(tmp_path / "wan"))]
    assert isinstance(audio[1], DiffusersAudioPipeline)
    assert isinstance(video[1], DiffusersVideoPipeline)
    for pipe in audio:
        assert isinstance(pipe, AudioPipeline) and not isinstance(pipe, VideoPipeline)
    for pipe in video:
        assert isinstance(pipe, VideoPipeline)
    assert [p.loads_dtype for p in audio + video] == [False, True, False, True]
    for pipe in audio + video:
        assert {"num_inference_steps", "guidance_scale"} <= set(pipe.config)
        assert isinstance(pipe.model_id, str)


def test_one_text_encoder_cache() -> None:
    from avgen import text

    assert text_to_audio.shared_text_encoder is text.shared_text_encoder
    assert text_to_video.shared_text_encoder is text.shared_text_encoder


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("steps", 0, "steps must be a whole number from 1 to 1000, got 0."),
        ("steps", 2.5, "steps must be a whole number"),
        ("guidance", -1.0, "guidance must be between 0 and 50, got -1."),
        ("duration", 0.0, "duration must be more than 0 and at most 600 seconds, got 0."),
        ("duration", float("nan"), "at most 600 seconds"),
        ("duration", "abc", "duration must be a number of seconds, got 'abc'."),
        ("audio duration", 150.0, "audio duration must be between 1 and 120 seconds, got 150."),
        ("strength", 0.0, "strength must be more than 0 and at most 1, got 0."),
        ("strength", True, "strength must be more than 0 and at most 1, got True."),
        ("super-resolution cut-off", 8000.0, "between 0 and 8000 Hz (exclusive), got 8000."),
        ("fps", 31, "fps must be a whole number from 1 to 30, got 31."),
        ("candidates", True, "candidates must be a whole number from 1 to 16, got True."),
    ],
)
def test_range_table_sentences(name: str, value: object, words: str) -> None:
    with pytest.raises(AvgenError) as exc:
        check_range(name, value)
    assert words in str(exc.value)


def test_range_table_accepts_its_ends_and_narrows_per_model() -> None:
    for rng in RANGES.values():
        for end, open_end in ((rng.low, rng.open_low), (rng.high, rng.open_high)):
            if not open_end:
                assert check_range(rng.name, end) == end
    with pytest.raises(AvgenError, match="Stable Audio audio duration must be between 1 and 2"):
        check_range("audio duration", 3.0, high=2.0, label="Stable Audio audio duration")


def test_rerun_of_an_av_sidecar_checks_its_settings(tmp_path: Path) -> None:
    from avgen.sidecar import write_sidecar

    side = write_sidecar(tmp_path / "x.mp4", command="av", prompt="a ball", seed=0,
                         settings={"batch": 2}, model_id=None)  # fmt: skip
    with pytest.raises(AvgenError, match="setting 'batch' is not one 'av' takes"):
        api.rerun(side)
