"""`avgen av` end to end: one MP4 with picture and sound, its sidecar and rerun; bad input;
local diffusers folders (tiny random-weight Wan and AudioLDM pipelines)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from avgen import api
from avgen.cli import main
from avgen.media import probe, read_mp4
from avgen.worlds.av_checks import audio_onsets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines"))
import tiny_diffusers as tiny  # noqa: E402

PROMPT = "a red ball bouncing on a grass field, with a thud at every bounce, over falling rain"
FAST = ["--steps", "2", "--quiet", "--upscale", "0", "--duration", "2"]


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return int(exc.value.code), out.out, out.err


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, one_thread) -> Path:
    out = tmp_path_factory.mktemp("av") / "clip.mp4"
    with pytest.raises(SystemExit) as exc:
        main(["av", PROMPT, "-o", str(out), "--preview", *FAST])
    assert exc.value.code == 0
    return out


def test_one_mp4_with_picture_and_sound_of_one_length(clip: Path) -> None:
    streams = {s["type"]: s for s in probe(clip)["streams"]}
    assert streams["video"]["codec"] == "h264" and streams["audio"]["codec"] == "aac"
    assert abs(streams["video"]["duration_s"] - streams["audio"]["duration_s"]) < 0.07
    frames, fps, audio, sr = read_mp4(clip)
    assert frames.shape[0] == 16 and fps == 8
    assert abs(len(audio) / sr - frames.shape[0] / fps) < 0.07  # one AAC frame at most
    for ext in (".gif", ".png", ".json"):
        assert clip.with_name(clip.name + ext).is_file()


def test_the_sidecar_says_what_was_split_and_where_the_sounds_went(clip: Path) -> None:
    side = json.loads(clip.with_name(clip.name + ".json").read_text())
    assert side["command"] == "av" and side["prompt"] == PROMPT
    assert side["split"]["video"] == "a red ball bouncing on a grass field, over falling rain"
    assert side["split"]["bed"] == "over falling rain"
    assert side["plan_source"] in ("none", "planner")
    assert side["events_source"] == ("plan" if side["plan_source"] == "planner" else "detected")
    assert len(side["impacts"]) == len(side["events"])
    for ev, imp in zip(side["events"], side["impacts"]):
        assert imp["sample"] == round(ev["t"] * side["sample_rate"])
    _, _, audio, sr = read_mp4(clip)
    onsets = np.array([o["t"] for o in audio_onsets(audio, sr)])
    for imp in side["impacts"]:  # every placed impact is an onset in the decoded MP4
        assert np.min(np.abs(onsets - imp["sample"] / sr)) < 0.005


def test_rerun_makes_the_same_bytes(clip: Path, tmp_path: Path, capsys) -> None:
    code, out, err = cli(["rerun", str(clip.with_name(clip.name + ".json")),
                          "-o", str(tmp_path / "again.mp4")], capsys)  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "again.mp4").read_bytes() == clip.read_bytes()


def test_the_audio_prompt_overrides_the_sound_words(tmp_path: Path, one_thread) -> None:
    out = tmp_path / "o.mp4"
    api.generate_av(PROMPT, out, audio_prompt="soft piano music", duration_s=2,
                    num_inference_steps=2, quiet=True, upscale=0)  # fmt: skip
    side = json.loads(out.with_name("o.mp4.json").read_text())
    assert side["split"]["bed"] == "soft piano music"
    assert side["settings"]["audio_prompt"] == "soft piano music"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model", "models/video"], "--video-model DIR and the audio model with --audio-model"),
        (["--video-model", "avgen/models/audio"], "--video-model avgen/models/audio is an audio"),
        (["--audio-model", "avgen/models/video"], "--audio-model avgen/models/video is a video"),
        (["--plan", "p.json", "--no-plan"], "--plan and --no-plan exclude each other"),
        (["--duration", "0"], "duration"),
        (["--video-prompt", " "], "video_prompt: the prompt is empty"),
    ],
)
def test_bad_input_is_one_sentence_and_no_file(
    extra: list[str], message: str, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "x.mp4"
    code, _, err = cli(["av", PROMPT, "-o", str(out), *FAST, *extra], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_refused(clip: Path, capsys) -> None:
    code, _, err = cli(["av", PROMPT, "-o", str(clip), *FAST], capsys)
    assert code == 2 and "exists" in err


# ----------------------------------------------------------------------------- diffusers


@pytest.fixture(scope="module")
def diffusers_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {
        "video": tiny.build_tiny_wan(root / "wan"),
        "audio": tiny.build_tiny_audioldm(root / "audioldm"),
    }


def test_local_diffusers_folders_chain_end_to_end(
    diffusers_folders: dict[str, Path], tmp_path: Path, capsys, one_thread
) -> None:
    out = tmp_path / "d.mp4"
    code, _, err = cli([
        "av", "a ball falling onto the floor, with a thud", "-o", str(out),
        "--video-model", str(diffusers_folders["video"]),
        "--audio-model", str(diffusers_folders["audio"]),
        "--steps", "2", "--quiet", "--upscale", "0", "--width", "32", "--height", "32",
        "--fps", "8", "--duration", "1",
    ], capsys)  # fmt: skip
    assert code == 0, err
    frames, fps, audio, sr = read_mp4(out)
    assert frames.shape[1:3] == (32, 32) and audio is not None and len(audio) > 0
    side = json.loads(out.with_name("d.mp4.json").read_text())
    assert side["events_source"] == "detected"  # diffusers models do not follow plans
    assert side["settings"]["video_model"] == str(diffusers_folders["video"])
    assert "WanPipeline" in side["model_id"] or "wan" in side["model_id"].lower()


def test_a_diffusers_folder_of_the_wrong_kind_is_refused(
    diffusers_folders: dict[str, Path], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "w.mp4"
    code, _, err = cli(["av", PROMPT, "-o", str(out), *FAST,
                        "--video-model", str(diffusers_folders["audio"])], capsys)  # fmt: skip
    assert code == 2 and "is an audio pipeline (AudioLDMPipeline)" in err
    code, _, err = cli(["av", PROMPT, "-o", str(out), *FAST,
                        "--audio-model", str(diffusers_folders["video"])], capsys)  # fmt: skip
    assert code == 2 and "is a video pipeline (WanPipeline)" in err
    assert not out.exists()
