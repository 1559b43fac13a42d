"""Safe outputs: unique temporary names, the overwrite policy (checked before generating and
again at the rename), concurrent writers, standard JSON, quiet broken pipes, reproducible MP4s."""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from avgen import api, cli, files, media
from avgen.errors import AvgenError, OutputExistsError
from avgen.pipelines.text_to_audio import default_audio_model_dir
from avgen.pipelines.text_to_video import default_video_model_dir
from avgen.sidecar import write_sidecar

ROOT = Path(__file__).resolve().parents[1]
HAS_AUDIO_MODEL = (default_audio_model_dir() / "pipeline.json").is_file()
HAS_VIDEO_MODEL = (default_video_model_dir() / "pipeline.json").is_file()
FAST_AUDIO = ["--duration", "1", "--steps", "1", "--quiet"]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code), out, err


def temps(folder: Path) -> list[Path]:
    """Temporary files left anywhere under ``folder``."""
    return [p for p in folder.rglob(".*") if "tmp" in p.name]


def tone(value: float) -> np.ndarray:
    return np.full(1600, value, dtype=np.float32)


# ----------------------------------------------------------------------------- the helper


def test_temp_names_are_unique_and_keep_the_extension(tmp_path: Path) -> None:
    names = {files.temp_path(tmp_path / "a.wav") for _ in range(2000)}
    assert len(names) == 2000
    name = next(iter(names)).name
    assert name.startswith(".a.tmp-") and name.endswith(".wav") and files.is_temp_name(name)
    assert str(os.getpid()) in name


def test_publish_refuses_an_existing_name_and_leaves_no_temp(tmp_path: Path) -> None:
    out = tmp_path / "x.txt"
    out.write_text("first")
    with pytest.raises(OutputExistsError, match="x.txt already exists"):
        files.check_new([out], overwrite=False)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        files.write_text(out, "second", overwrite=False)
    assert out.read_text() == "first" and not temps(tmp_path)
    files.write_text(out, "third", overwrite=True)
    assert out.read_text() == "third" and not temps(tmp_path)


def test_an_output_that_appears_while_writing_is_refused_at_the_rename(tmp_path: Path) -> None:
    """The check before the work passed; another writer publishes first; ours is refused and
    theirs is kept."""
    out = tmp_path / "a.wav"
    with pytest.raises(OutputExistsError, match="appeared while"):
        with files.atomic_path(out, overwrite=False) as tmp:
            tmp.write_text("ours")
            out.write_text("theirs")
    assert out.read_text() == "theirs" and not temps(tmp_path)


def test_a_file_system_without_hard_links_keeps_the_policy(tmp_path: Path, monkeypatch) -> None:
    def no_links(src: str, dst: str) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    out = tmp_path / "a.txt"
    files.write_text(out, "one", overwrite=False)
    assert out.read_text() == "one"
    with pytest.raises(OutputExistsError):
        files.write_text(out, "two", overwrite=False)
    assert out.read_text() == "one" and not temps(tmp_path)


def test_one_run_never_names_a_file_twice(tmp_path: Path) -> None:
    with pytest.raises(AvgenError, match="written twice"):
        files.check_new([tmp_path / "a.wav", tmp_path / "b" / ".." / "a.wav"], overwrite=True)


def test_json_is_standard_or_an_avgen_error(tmp_path: Path) -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(AvgenError, match="NaN or infinite"):
            files.json_text({"tempo": bad})
        with pytest.raises(AvgenError, match="NaN or infinite"):
            write_sidecar(tmp_path / "a.wav", command="audio", prompt="p", seed=0,
                          settings={"tempo": bad}, model_id="m")  # fmt: skip
    assert list(tmp_path.iterdir()) == []
    assert json.loads(files.json_text({"x": 1.5})) == {"x": 1.5}


def test_every_json_writer_refuses_nan() -> None:
    """Every ``json.dump(s)`` in avgen that writes a file or prints passes ``allow_nan=False``
    (or goes through ``avgen.files.json_text``). Left out: the trainers' own files, cache keys
    hashed with ``sort_keys=True``, and one value quoted inside an error message."""
    offenders = []
    for path in sorted((ROOT / "avgen").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("avgen/train/") or rel == "avgen/lora/train.py":
            continue
        for line in path.read_text().splitlines():
            if "json.dump" not in line or "allow_nan=False" in line or "sort_keys=True" in line:
                continue
            if rel == "avgen/plan/schema.py" and "json.dumps(value) if not" in line:
                continue
            offenders.append(f"{rel}: {line.strip()}")
    assert offenders == []


# ----------------------------------------------------------------------------- concurrency


def _write_same(folder: str, index: int, barrier, queue) -> None:
    barrier.wait()
    try:
        media.write_audio(Path(folder) / "same.wav", tone((index + 1) / 100), 16000,
                          overwrite=False)  # fmt: skip
        queue.put(("ok", index))
    except OutputExistsError:
        queue.put(("exists", index))
    except BaseException as exc:  # noqa: BLE001 - anything else is the failure under test
        queue.put((f"{type(exc).__name__}: {exc}", index))


def _write_sidecars(folder: str, index: int, barrier, queue, count: int, same: bool) -> None:
    barrier.wait()
    outcomes = []
    for k in range(count):
        name = "same.wav" if same else f"w{index}_{k}.wav"
        try:
            write_sidecar(Path(folder) / name, command="audio", prompt=f"writer {index}",
                          seed=index, settings={"i": index}, model_id="m")  # fmt: skip
            outcomes.append("ok")
        except BaseException as exc:  # noqa: BLE001
            outcomes.append(f"{type(exc).__name__}: {exc}")
    queue.put(outcomes)


def _run_together(target, writers: int, *args) -> list:
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(writers), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args[:1], i, barrier, queue, *args[1:]))
             for i in range(writers)]  # fmt: skip
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_concurrent_writers_of_one_output_one_wins_the_others_get_avgen_error(
    tmp_path: Path,
) -> None:
    for round_ in range(3):
        folder = tmp_path / f"r{round_}"
        folder.mkdir()
        results = _run_together(_write_same, 8, str(folder))
        kinds = sorted(kind for kind, _ in results)
        assert kinds == ["exists"] * 7 + ["ok"], kinds
        winner = next(i for kind, i in results if kind == "ok")
        wave, _ = media.read_audio(folder / "same.wav")
        assert np.allclose(wave, (winner + 1) / 100, atol=1e-3)  # the winner's, whole
        assert sorted(p.name for p in folder.iterdir()) == ["same.wav"]


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_concurrent_sidecars_to_one_name_never_collide(tmp_path: Path) -> None:
    """A fixed temporary name made writers rename away each other's file (FileNotFoundError)."""
    results = _run_together(_write_sidecars, 16, str(tmp_path), 5, True)
    outcomes = [o for r in results for o in r]
    assert outcomes == ["ok"] * 80, sorted(set(outcomes))
    record = json.loads((tmp_path / "same.wav.json").read_text())
    assert record["settings"] == {"i": record["seed"]}  # one writer's record, not a mixture
    assert not temps(tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_stress_many_sidecars_in_one_folder(tmp_path: Path) -> None:
    writers, count = 16, 25
    results = _run_together(_write_sidecars, writers, str(tmp_path), count, False)
    assert [o for r in results for o in r] == ["ok"] * writers * count
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"w{i}_{k}.wav.json" for i in range(writers) for k in range(count))
    for p in tmp_path.iterdir():
        record = json.loads(p.read_text())
        assert record["output"] == p.name[: -len(".json")]


def test_threads_writing_one_output(tmp_path: Path) -> None:
    barrier, results = threading.Barrier(6), []

    def write(i: int) -> None:
        barrier.wait()
        try:
            media.write_audio(tmp_path / "t.wav", tone(0.1), 16000, overwrite=False)
            results.append("ok")
        except OutputExistsError:
            results.append("exists")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["exists"] * 5 + ["ok"] and not temps(tmp_path)


# ----------------------------------------------------------------------------- the commands


@pytest.mark.skipif(not HAS_AUDIO_MODEL, reason="no shipped audio model")
def test_audio_refuses_an_existing_output_unless_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "c.wav"
    base = ["audio", "a bell ringing", "-o", str(out), *FAST_AUDIO]
    assert run_cli(base, capsys)[0] == 0
    first = out.read_bytes()
    sidecar = out.with_name("c.wav.json").read_text()
    code, _, err = run_cli([*base, "--seed", "3"], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "c.wav already exists" in err and "--overwrite" in err
    assert out.read_bytes() == first and out.with_name("c.wav.json").read_text() == sidecar
    code, _, _ = run_cli([*base, "--seed", "3", "--overwrite"], capsys)
    assert code == 0 and out.read_bytes() != first
    assert json.loads(out.with_name("c.wav.json").read_text())["seed"] == 3
    assert "overwrite" not in json.loads(out.with_name("c.wav.json").read_text())["settings"]
    assert not temps(tmp_path)


@pytest.mark.skipif(not HAS_AUDIO_MODEL, reason="no shipped audio model")
def test_a_stale_sidecar_or_preview_is_a_clash_too(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d.wav"
    out.with_name("d.wav.png").write_bytes(b"old preview")
    code, _, err = run_cli(["audio", "a bell", "-o", str(out), "--preview", *FAST_AUDIO], capsys)
    assert code == 2 and "d.wav.png already exists" in err and not out.exists()
    code, _, _ = run_cli(["audio", "a bell", "-o", str(out), *FAST_AUDIO], capsys)
    assert code == 0  # without --preview the PNG is not an output of the run
    out.unlink()
    code, _, err = run_cli(["audio", "a bell", "-o", str(out), *FAST_AUDIO], capsys)
    assert code == 2 and "d.wav.json already exists" in err and not out.exists()


@pytest.mark.skipif(not HAS_AUDIO_MODEL, reason="no shipped audio model")
def test_every_output_of_a_run_is_checked_before_generating(tmp_path: Path, capsys) -> None:
    """A clash on the last prompt of a prompts file, or the last sample of a batch, fails
    before the first output is made."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a bell\na drum\na flute\n")
    (tmp_path / "p_p2.wav").write_bytes(b"mine")
    code, _, err = run_cli(["audio", "--prompts-file", str(prompts), "-o",
                            str(tmp_path / "p.wav"), *FAST_AUDIO], capsys)  # fmt: skip
    assert code == 2 and "p_p2.wav already exists" in err
    (tmp_path / "b_1.wav.json").write_text("{}")
    code, _, err = run_cli(["audio", "a bell", "--batch", "2", "-o", str(tmp_path / "b.wav"),
                            *FAST_AUDIO], capsys)  # fmt: skip
    assert code == 2 and "b_1.wav.json already exists" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b_1.wav.json", "p_p2.wav",
                                                          "prompts.txt"]  # fmt: skip


@pytest.mark.skipif(not HAS_AUDIO_MODEL, reason="no shipped audio model")
def test_api_output_appearing_during_generation_is_refused(tmp_path: Path, monkeypatch) -> None:
    """The second writer of a race: its check passed, the other run published while it was
    generating; it gets OutputExistsError, the other's file is kept, nothing else is left."""
    from avgen import generate

    out = tmp_path / "race.wav"
    real = generate.run_with_progress

    def other_writer_publishes_meanwhile(*args, **kwargs):
        result = real(*args, **kwargs)
        out.write_bytes(b"the other run's file")
        return result

    monkeypatch.setattr(generate, "run_with_progress", other_writer_publishes_meanwhile)
    with pytest.raises(OutputExistsError, match="race.wav (already exists|appeared while)"):
        api.text_to_audio("a bell", out, audio_length_in_s=1.0, num_inference_steps=1,
                          quiet=True)  # fmt: skip
    assert out.read_bytes() == b"the other run's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.wav"]


@pytest.mark.skipif(not HAS_AUDIO_MODEL, reason="no shipped audio model")
def test_two_avgen_processes_one_output(tmp_path: Path) -> None:
    """Two `avgen audio ... -o C.wav` at once: one exits 0, the other 2 with one sentence."""
    out = tmp_path / "C.wav"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "avgen.cli", "audio", "a bell ringing", "-o", str(out)]
    procs = [
        subprocess.Popen(
            [*cmd, *FAST_AUDIO, "--seed", str(i)],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for i in range(2)
    ]
    done = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert sorted(code for code, _ in done) == [0, 2], done
    err = next(err for code, err in done if code == 2)
    assert "Traceback" not in err and "C.wav" in err and "--overwrite" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["C.wav", "C.wav.json"]
    record = json.loads((tmp_path / "C.wav.json").read_text())
    winner = next(i for i, (code, _) in enumerate(done) if code == 0)
    assert record["seed"] == winner  # the sidecar belongs to the file that was kept


@pytest.mark.skipif(not HAS_AUDIO_MODEL, reason="no shipped audio model")
def test_rerun_keeps_working(tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.wav"
    assert run_cli(["audio", "a bell", "-o", str(out), *FAST_AUDIO], capsys)[0] == 0
    first = out.read_bytes()
    side = str(tmp_path / "r.wav.json")
    code, _, err = run_cli(["rerun", side], capsys)
    assert code == 2 and "r.wav already exists" in err
    code, printed, _ = run_cli(["rerun", side, "-o", str(tmp_path / "again.wav")], capsys)
    assert code == 0 and (tmp_path / "again.wav").read_bytes() == first
    code, _, _ = run_cli(["rerun", side, "--overwrite"], capsys)
    assert code == 0 and out.read_bytes() == first and not temps(tmp_path)


def test_demo_refuses_an_existing_output(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo.mp4"
    out.write_bytes(b"mine")
    code, _, err = run_cli(["demo", "-o", str(out), "--quiet"], capsys)
    assert code == 2 and "demo.mp4 already exists" in err and out.read_bytes() == b"mine"
    assert not out.with_name("demo.mp4.json").exists()


def test_plan_file_refuses_an_existing_output(tmp_path: Path, capsys) -> None:
    out = tmp_path / "plan.json"
    out.write_text("{}")
    code, _, err = run_cli(["plan", "audio", "sitar raga at 90 BPM", "-o", str(out)], capsys)
    assert code == 2 and "plan.json already exists" in err and out.read_text() == "{}"
    code, _, _ = run_cli(["plan", "audio", "sitar raga at 90 BPM", "-o", str(out),
                          "--overwrite"], capsys)  # fmt: skip
    assert code == 0 and json.loads(out.read_text())["notes"]


def test_every_generating_command_has_overwrite() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("audio", "video", "demo", "rerun"):
        flags = {s for a in sub.choices[name]._actions for s in a.option_strings}
        assert "--overwrite" in flags, name


# ----------------------------------------------------------------------------- broken pipe


@pytest.mark.parametrize(
    "argv",
    [["prompt", "parse", "sitar raga at 90 BPM for 10 seconds"],
     ["prompt", "lint", "a red ball"],
     ["prompt", "build", "audio", "calm", "sitar"]],
)  # fmt: skip
def test_a_reader_that_stops_early_ends_quietly(argv: list[str]) -> None:
    """`avgen prompt parse ... | head -1`: the reader is gone before avgen writes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    read, write = os.pipe()
    os.close(read)  # the reader exits before avgen writes a byte
    try:
        done = subprocess.run([sys.executable, "-m", "avgen.cli", *argv], stdout=write,
                              stderr=subprocess.PIPE, text=True, env=env, timeout=120)  # fmt: skip
    finally:
        os.close(write)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_another_broken_pipe_is_not_hidden() -> None:
    """Only the reader of stdout going away is quiet; a pipe of something else that breaks
    while stdout is open still fails loudly."""
    code = (
        "from avgen import cli\n"
        "def run(argv):\n"
        "    raise BrokenPipeError(32, 'a worker pipe')\n"
        "cli.run = run\n"
        "cli.main(['prompt', 'parse', 'x'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip
    assert done.returncode == 1 and "a worker pipe" in done.stderr


# ----------------------------------------------------------------------------- MP4 bytes


MP4_SCRIPT = """
import hashlib, os, sys
import numpy as np
from avgen.media import write_mp4
os.sched_setaffinity(0, {int(c) for c in sys.argv[2].split(",")})
frames = np.random.default_rng(0).integers(0, 255, (12, 256, 256, 3), dtype=np.uint8)
audio = np.random.default_rng(1).standard_normal(24000).astype(np.float32) * 0.1
write_mp4(sys.argv[1], frames, 8, audio=audio, sr=16000)
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_mp4_bytes_do_not_depend_on_the_cpu_count(tmp_path: Path) -> None:
    """x264 cut frames into one slice per thread, so the bytes followed the CPU count; with
    one encoder thread the same frames give the same file on one core and on all of them."""
    cores = sorted(os.sched_getaffinity(0))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    hashes = set()
    for i, allowed in enumerate([cores[:1], cores]):
        out = tmp_path / f"v{i}.mp4"
        cmd = [sys.executable, "-c", MP4_SCRIPT, str(out), ",".join(map(str, allowed))]
        subprocess.run(cmd, check=True, env=env, timeout=120)
        hashes.add(hashlib.sha256(out.read_bytes()).hexdigest())
        assert b"threads=1 " in out.read_bytes()
    assert len(hashes) == 1


@pytest.mark.skipif(not HAS_VIDEO_MODEL, reason="no shipped video model")
def test_seeded_video_written_twice_is_byte_identical(tmp_path: Path) -> None:
    kwargs = dict(num_frames=8, num_inference_steps=2, seed=5, quiet=True, upscale=128)
    a = api.text_to_video("a red ball bouncing", tmp_path / "a.mp4", **kwargs)[0]
    b = api.text_to_video("a red ball bouncing", tmp_path / "b.mp4", **kwargs)[0]
    assert a.read_bytes() == b.read_bytes()
    with pytest.raises(OutputExistsError):
        api.text_to_video("a red ball bouncing", a, **kwargs)
