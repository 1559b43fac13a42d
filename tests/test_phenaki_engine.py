"""Engine selection end to end on tiny random-weight Phenaki folders: ``avgen video --model DIR``
loads the engine the folder names, ``--engine phenaki`` the shipped folder (a tmp stand-in
here), stories with either, the sidecar records the engine, ``avgen rerun`` reproduces byte for
byte, and every bad engine request is one sentence, exit 2, no file."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from avgen import api, cli
from avgen.errors import AvgenError
from avgen.media import read_mp4, write_mp4
from avgen.pipelines import engines
from avgen.pipelines.phenaki import PhenakiPipeline
from avgen.pipelines.text_to_video import PIPELINE_CONFIG, default_video_model_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))  # phenaki_tiny lives beside us
from phenaki_tiny import tiny_audio, tiny_phenaki  # noqa: E402

FAST = ["--quiet", "--upscale", "0"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory):
    """A Phenaki folder given with --model, one standing in for the shipped avgen/models/phenaki
    (different weights) and a tiny audio folder; their pipelines (fake text encoders) sit in
    api's cache, as the story tests do."""
    root = tmp_path_factory.mktemp("phenaki_engine")
    given, shipped = tiny_phenaki(), tiny_phenaki(temperature=0.5)
    pdir = given.save_pretrained(root / "phenaki")
    sdir = shipped.save_pretrained(root / "shipped")
    audio = tiny_audio()
    adir = root / "audio"
    audio.save_pretrained(adir)
    keys = {
        ("video", str(pdir.resolve()), "cpu"): given,
        ("video", str(sdir.resolve()), "cpu"): shipped,
        ("audio", str(adir.resolve()), "cpu"): audio,
    }
    saved = dict(api._PIPELINES)
    api._PIPELINES.update(keys)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("avgen.pipelines.phenaki.default_phenaki_model_dir", lambda: sdir)
        yield {"model": pdir, "shipped": sdir, "audio": adir, "root": root}
    api._PIPELINES.clear()
    api._PIPELINES.update(saved)


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code), out, err


def sidecar(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".json").read_text())


def test_folder_engine_reads_pipeline_json(tmp_path: Path, folders) -> None:
    assert engines.folder_engine(folders["model"]) == "phenaki"
    for name, config, want in [
        ("dit", {"_class": "TextToVideoPipeline"}, "dit"),
        ("named", {"engine": "phenaki"}, "phenaki"),
    ]:
        (tmp_path / name).mkdir()
        (tmp_path / name / PIPELINE_CONFIG).write_text(json.dumps(config))
        assert engines.folder_engine(tmp_path / name) == want
    assert engines.folder_engine(tmp_path) == "dit"  # no pipeline.json: the DiT loader says so
    for config in [{"_class": "SoraPipeline"}, {"_class": "PhenakiPipeline", "engine": "dit"}]:
        (tmp_path / "bad").mkdir(exist_ok=True)
        (tmp_path / "bad" / PIPELINE_CONFIG).write_text(json.dumps(config))
        with pytest.raises(AvgenError, match="names no known video engine"):
            engines.folder_engine(tmp_path / "bad")
    assert engines.engine_model_dir("dit") == default_video_model_dir()
    assert engines.engine_model_dir("phenaki") == folders["shipped"]
    with pytest.raises(AvgenError, match="unknown video engine 'sora'; use one of dit, phenaki"):
        engines.check_engine("sora")


def test_api_loads_the_engine_a_folder_names(folders, tmp_path: Path) -> None:
    copy = shutil.copytree(folders["model"], tmp_path / "copy")  # not in the cache: loaded
    key = ("video", str(copy.resolve()), "cpu")
    try:
        pipe = api.video_pipeline(str(copy))
        assert isinstance(pipe, PhenakiPipeline) and pipe.model_id == str(copy)
        assert pipe.engine == "phenaki" and not pipe.follows_plans
    finally:
        api._PIPELINES.pop(key, None)
    assert (
        api.video_pipeline(engine="phenaki")
        is api._PIPELINES[("video", str(folders["shipped"].resolve()), "cpu")]
    )
    with pytest.raises(AvgenError, match="--engine and --model exclude each other"):
        api.video_pipeline(str(copy), engine="phenaki")


def test_video_with_a_phenaki_folder_and_byte_exact_rerun(folders, tmp_path: Path, capsys):
    out = tmp_path / "clip.mp4"
    argv = ["video", "a red ball moving to the left", "--model", str(folders["model"]),
            "--num-frames", "20", "--seed", "3", "-o", str(out), *FAST]  # fmt: skip
    code, printed, err = run(argv, capsys)
    assert code == 0, err
    frames, fps, _, _ = read_mp4(out)
    assert frames.shape == (20, 64, 64, 3) and fps == 8
    record = sidecar(out)
    assert record["engine"] == "phenaki" and record["windows"] == 2 and record["joins"] == [17]
    assert record["settings"]["model"] == str(folders["model"])
    assert "engine" not in record["settings"]  # the folder names it
    again = tmp_path / "again.mp4"
    code, _, err = run(["rerun", str(out) + ".json", "-o", str(again)], capsys)
    assert code == 0, err
    assert again.read_bytes() == out.read_bytes()


def test_engine_phenaki_video_extend_and_rerun(folders, tmp_path: Path, capsys) -> None:
    out = tmp_path / "e.mp4"
    code, _, err = run(["video", "a blue square", "--engine", "phenaki", "--num-frames", "6",
                        "-o", str(out), *FAST], capsys)  # fmt: skip
    assert code == 0, err
    record = sidecar(out)
    assert record["settings"]["engine"] == "phenaki" and record["engine"] == "phenaki"
    assert "model" not in record["settings"]
    given = tmp_path / "given.mp4"  # the --model folder's weights differ from the shipped one's
    run(["video", "a blue square", "--model", str(folders["model"]), "--num-frames", "6",
         "-o", str(given), *FAST], capsys)  # fmt: skip
    assert not np.array_equal(read_mp4(given)[0], read_mp4(out)[0])
    src = np.full((9, 64, 64, 3), 90, np.uint8)
    write_mp4(tmp_path / "src.mp4", src, 8)
    ext = tmp_path / "ext.mp4"
    argv = ["video", "a blue square", "--engine", "phenaki", "--num-frames", "7",
            "--extend", str(tmp_path / "src.mp4"), "-o", str(ext), *FAST]  # fmt: skip
    code, _, err = run(argv, capsys)
    assert code == 0, err
    frames = read_mp4(ext)[0]
    assert frames.shape[0] == 16 and sidecar(ext)["joins"] == [9]
    again = tmp_path / "again.mp4"
    code, _, err = run(["rerun", str(ext) + ".json", "-o", str(again)], capsys)
    assert code == 0, err
    assert again.read_bytes() == ext.read_bytes()


def test_story_with_engine_phenaki_and_byte_exact_rerun(folders, tmp_path: Path, capsys):
    out = tmp_path / "story.mp4"
    argv = ["story", "a small red ball bouncing", "then it spins", "--durations", "1", "1.5",
            "--engine", "phenaki", "--audio-model", str(folders["audio"]), "--seed", "2",
            "-o", str(out), *FAST]  # fmt: skip
    code, printed, err = run(argv, capsys)
    assert code == 0, err
    frames, fps, audio, _ = read_mp4(out)
    assert frames.shape == (20, 64, 64, 3) and audio is not None
    record = sidecar(out)
    assert record["engine"] == "phenaki" and record["settings"]["engine"] == "phenaki"
    assert record["shot_starts"] == [0, 8]
    again = tmp_path / "again.mp4"
    code, _, err = run(["rerun", str(out) + ".json", "-o", str(again)], capsys)
    assert code == 0, err
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize(
    "extra,words",
    [
        (["--engine", "phenaki", "--model", "MODEL"], "--engine and --model exclude each other"),
        (["--engine", "sora"], "unknown video engine 'sora'"),
        (["--model", "FOREIGN"], "names no known video engine"),
    ],
)
def test_bad_engine_requests_exit_2_without_a_file(
    folders, tmp_path: Path, capsys, extra: list[str], words: str
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / PIPELINE_CONFIG).write_text(json.dumps({"_class": "SoraPipeline"}))
    extra = [{"MODEL": str(folders["model"]), "FOREIGN": str(foreign)}.get(a, a) for a in extra]
    for command in (["video", "a ball", "--num-frames", "2"], ["story", "a ball"]):
        out = tmp_path / "x.mp4"
        if command[0] == "story":
            extra = [*extra, "--audio-model", str(folders["audio"])]
        code, _, err = run([*command, *extra, "-o", str(out), *FAST], capsys)
        assert code == 2 and words in err and err.count("\n") == 1
        assert not out.exists() and not out.with_name("x.mp4.json").exists()


def test_av_runs_a_phenaki_video_folder(folders, tmp_path: Path) -> None:
    out = tmp_path / "av.mp4"
    api.generate_av(
        "a red ball bouncing, with a wooden knock", out, video_model=str(folders["model"]),
        audio_model=str(folders["audio"]), duration_s=1.0, upscale=0, quiet=True,
    )  # fmt: skip
    frames, _, audio, _ = read_mp4(out)
    assert frames.shape == (8, 64, 64, 3) and audio is not None


@pytest.mark.skipif(
    not (default_video_model_dir() / PIPELINE_CONFIG).is_file(), reason="no shipped video model"
)
def test_engine_dit_is_the_default_model() -> None:
    pipe = api.video_pipeline(engine="dit")
    assert pipe is api.video_pipeline() and pipe.engine == "dit"
    assert pipe.model_id == "avgen/models/video"
