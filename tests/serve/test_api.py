"""The HTTP API of ``avgen serve`` against a real uvicorn server on localhost, tiny models."""

from __future__ import annotations

import io
import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))  # helpers live beside us
from helpers import LiveServer, tiny_audio_model, tiny_video_model  # noqa: E402

from avgen import cli  # noqa: E402
from avgen.errors import AvgenError  # noqa: E402
from avgen.plan.notes import FEATURES  # noqa: E402
from avgen.serve import Limits, resolve_token  # noqa: E402
from avgen.serve.models import parse_model_flags  # noqa: E402

SLOW = {"num_inference_steps": 100, "audio_length_in_s": 30.0}  # thousands of tiny steps


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("serve_models")
    audio = tiny_audio_model(root / "audio")
    video = tiny_video_model(root / "video")
    planned = tiny_audio_model(root / "planned", note_dim=FEATURES)
    return [f"tiny={audio}", f"tinyv={video}", f"planned={planned}"]


@pytest.fixture(scope="module")
def server(models: list[str], tmp_path_factory: pytest.TempPathFactory, one_thread):
    limits = Limits(max_steps=100, max_duration_s=30.0, max_upload_mb=0.5)
    with LiveServer(tmp_path_factory.mktemp("results"), models, limits=limits) as live:
        yield live


def post(server: LiveServer, **settings) -> requests.Response:
    return requests.post(f"{server.url}/api/jobs", json=settings)


def test_audio_and_video_jobs_results_sidecars_previews(server: LiveServer) -> None:
    a = post(server, kind="audio", prompt="a bell for 1 second", model="tiny", seed=5)
    v = post(server, kind="video", prompt="a red ball bouncing for 1 second", model="tinyv",
             seed=9, upscale=64)  # fmt: skip
    assert a.status_code == v.status_code == 201
    assert a.headers["Location"] == f"/api/jobs/{a.json()['id']}"
    assert a.json()["status"] == "queued" and a.json()["position"] == 0
    for answer, kind, prompt, seed, media in (
        (a, "audio", "a bell for 1 second", 5, "audio/wav"),
        (v, "video", "a red ball bouncing for 1 second", 9, "video/mp4"),
    ):
        status = server.wait(answer.json()["id"])
        assert status["status"] == "done", status["error"]
        assert status["progress"]["step"] == status["progress"]["total"] > 0
        result = requests.get(server.url + status["result"]["file"])
        assert result.status_code == 200 and result.headers["content-type"] == media
        assert len(result.content) > 1000
        sidecar = requests.get(server.url + status["result"]["sidecar"]).json()
        assert sidecar["command"] == kind and sidecar["prompt"] == prompt
        assert sidecar["seed"] == seed
        png = requests.get(server.url + status["result"]["preview"])
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
        download = requests.get(server.url + status["result"]["file"] + "?download=true")
        assert "attachment" in download.headers["content-disposition"]
    listed = requests.get(f"{server.url}/api/jobs?limit=2").json()["jobs"]
    assert [j["id"] for j in listed] == [v.json()["id"], a.json()["id"]]


def test_events_stream_progress_until_done(server: LiveServer) -> None:
    job = post(server, kind="audio", prompt="a soft bell", model="tiny",
               audio_length_in_s=4.0).json()  # fmt: skip
    events = []
    with requests.get(f"{server.url}/api/jobs/{job['id']}/events", stream=True, timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1]["status"] == "done"
    steps = [e["progress"]["step"] for e in events]
    assert steps == sorted(steps) and steps[-1] == events[-1]["progress"]["total"] > 2


def test_queue_positions_429_cancel_and_delete(models: list[str], tmp_path: Path) -> None:
    with LiveServer(tmp_path, models, max_queue=2) as server:
        running = post(server, kind="audio", prompt="a long drone", model="tiny", **SLOW).json()
        deadline = time.time() + 60
        while requests.get(f"{server.url}/api/jobs/{running['id']}").json()["status"] != "running":
            assert time.time() < deadline
            time.sleep(0.05)
        first = post(server, kind="audio", prompt="first in line", model="tiny", seed=1).json()
        second = post(server, kind="audio", prompt="second in line", model="tiny", seed=2).json()
        assert (first["position"], second["position"]) == (0, 1)
        full = post(server, kind="audio", prompt="one too many", model="tiny")
        assert full.status_code == 429 and int(full.headers["Retry-After"]) >= 1
        assert "--max-queue 2" in full.json()["detail"]
        # a queued job is cancelled at once and the next one moves up
        cancelled = requests.post(f"{server.url}/api/jobs/{first['id']}/cancel").json()
        assert cancelled["status"] == "cancelled"
        assert requests.get(f"{server.url}/api/jobs/{second['id']}").json()["position"] == 0
        # a running job stops at its next step and writes nothing
        assert requests.delete(f"{server.url}/api/jobs/{running['id']}").status_code == 409
        answer = requests.post(f"{server.url}/api/jobs/{running['id']}/cancel").json()
        assert answer["cancel_requested"] or answer["status"] == "cancelled"
        stopped = server.wait(running["id"])
        assert stopped["status"] == "cancelled" and stopped["result"] is None
        assert not list((tmp_path / running["id"]).glob("*.wav"))
        again = requests.post(f"{server.url}/api/jobs/{running['id']}/cancel")
        assert again.status_code == 409
        done = server.wait(second["id"])
        assert done["status"] == "done"
        # delete: the record and the files go
        assert (tmp_path / second["id"] / "audio.wav").is_file()
        assert requests.delete(f"{server.url}/api/jobs/{second['id']}").status_code == 204
        assert not (tmp_path / second["id"]).exists()
        gone = requests.get(f"{server.url}/api/jobs/{second['id']}")
        assert gone.status_code == 404 and second["id"] in gone.json()["detail"]


@pytest.mark.parametrize(
    ("settings", "code", "words"),
    [
        ({"num_inference_steps": 101}, 422, "--max-steps"),
        ({"audio_length_in_s": 31.0}, 422, "--max-duration"),
        ({"prompt": "x " * 600}, 422, "--max-prompt-chars"),
        ({"prompt": "   "}, 422, "prompt is empty"),
        (
            {"model": "nope"},
            422,
            "offers no audio model named 'nope'; offered: default, tiny, planned",
        ),
        ({"lora": "nope"}, 422, "no adapter named 'nope'"),
        ({"width": 64}, 422, "width is a setting of video jobs"),
        ({"num_inference_steps": 0}, 422, "num_inference_steps"),
        ({"guidance_scale": 51}, 422, "guidance_scale"),
        ({"candidates": 9}, 422, "--max-candidates"),
        ({"output": "/etc/passwd"}, 422, "output"),
        ({"seed": -1}, 422, "seed"),
    ],
)
def test_bad_settings_name_the_limit(server: LiveServer, settings, code, words) -> None:
    body = {"kind": "audio", "prompt": "a bell", "model": "tiny", **settings}
    answer = requests.post(f"{server.url}/api/jobs", json=body)
    assert answer.status_code == code
    assert words in answer.json()["detail"]


def test_video_limits(server: LiveServer) -> None:
    base = {"kind": "video", "prompt": "a ball", "model": "tinyv"}
    answer = requests.post(f"{server.url}/api/jobs", json={**base, "upscale": 1024})
    assert answer.status_code == 422 and "--max-size" in answer.json()["detail"]
    answer = requests.post(f"{server.url}/api/jobs", json={**base, "num_frames": 300, "fps": 8})
    assert answer.status_code == 422 and "--max-duration" in answer.json()["detail"]


def test_a_job_the_model_rejects_fails_with_its_sentence(server: LiveServer) -> None:
    job = post(server, kind="video", prompt="a ball", model="tinyv", width=16).json()
    status = server.wait(job["id"])
    assert status["status"] == "failed" and "width" in status["error"]


def _wav_bytes(seconds: float = 1.0) -> bytes:
    import soundfile as sf

    t = np.arange(int(16000 * seconds)) / 16000
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000, format="WAV")
    return buf.getvalue()


def test_upload_init_audio_and_upload_limits(server: LiveServer) -> None:
    url = f"{server.url}/api/jobs/upload"
    settings = json.dumps({"kind": "audio", "prompt": "a bell", "model": "tiny", "strength": 0.5})
    answer = requests.post(url, data={"settings": settings},
                           files={"init_audio": ("../../etc/x.wav", _wav_bytes())})  # fmt: skip
    assert answer.status_code == 201, answer.text
    status = server.wait(answer.json()["id"])
    assert status["status"] == "done", status["error"]
    assert status["inputs"] == ["init_audio"]
    sidecar = requests.get(server.url + status["result"]["sidecar"]).json()
    recorded = Path(sidecar["settings"]["init_audio"])
    assert recorded.parent.parent.name == status["id"] and recorded.name == "init_audio.wav"
    assert sidecar["settings"]["strength"] == 0.5
    big = requests.post(url, data={"settings": settings},
                        files={"init_audio": ("x.wav", b"0" * 600_000)})  # fmt: skip
    assert big.status_code == 413 and "--max-upload-mb" in big.json()["detail"]
    odd = requests.post(url, data={"settings": settings}, files={"init_audio": ("x.exe", b"0")})
    assert odd.status_code == 415 and ".wav" in odd.json()["detail"]
    wrong = requests.post(url, data={"settings": settings}, files={"extend": ("x.mp4", b"0")})
    assert wrong.status_code == 422 and "video jobs" in wrong.json()["detail"]
    huge = requests.post(url, data={"settings": settings},
                         files={"init_audio": ("x.wav", b"0" * 3_500_000)})  # fmt: skip
    assert huge.status_code == 413 and "--max-upload-mb 0.5" in huge.json()["detail"]
    broken = requests.post(url, data={"settings": "{not json"})
    assert broken.status_code == 422 and broken.json()["detail"].startswith("settings")


def test_missing_jobs_and_results(server: LiveServer) -> None:
    assert requests.get(f"{server.url}/api/jobs/nope").status_code == 404
    assert requests.get(f"{server.url}/api/jobs/nope/result").status_code == 404
    assert requests.delete(f"{server.url}/api/jobs/nope").status_code == 404


def test_health_models_openapi_prompt(server: LiveServer) -> None:
    health = requests.get(f"{server.url}/api/health").json()
    assert health["status"] == "ok" and health["workers"] == 1
    models = requests.get(f"{server.url}/api/models").json()
    assert models["audio"] == ["default", "tiny", "planned"]
    assert models["video"] == ["default", "tinyv"]
    assert models["limits"]["max_steps"] == 100
    doc = requests.get(f"{server.url}/openapi.json").json()
    for path in ("events", "cancel", "result", "sidecar"):
        assert f"/api/jobs/{{job_id}}/{path}" in doc["paths"]
    assert "/api/jobs" in doc["paths"] and "/api/health" in doc["paths"]
    built = requests.post(f"{server.url}/api/prompt", json={
        "kind": "video", "scene": "a red ball on grass", "motion": "bouncing", "style": ""
    }).json()  # fmt: skip
    assert built["prompt"] == "a red ball on grass, bouncing"
    assert "style/camera" in built["lint"]["missing"]
    empty = requests.post(f"{server.url}/api/prompt", json={"kind": "audio", "mood": ""}).json()
    assert empty["prompt"] is None and "genre_mood is empty" in empty["error"]
    assert "<html" in requests.get(server.url + "/").text.lower()


def test_restart_keeps_results_runs_queued_fails_running(models: list[str], tmp_path: Path):
    with LiveServer(tmp_path, models) as server:
        done = post(server, kind="audio", prompt="kept", model="tiny").json()
        assert server.wait(done["id"])["status"] == "done"
        running = post(server, kind="audio", prompt="interrupted", model="tiny", **SLOW).json()
        queued = post(server, kind="audio", prompt="waits", model="tiny", seed=4).json()
        deadline = time.time() + 60
        while requests.get(f"{server.url}/api/jobs/{running['id']}").json()["progress"][
            "step"
        ] == 0:  # fmt: skip
            assert time.time() < deadline
            time.sleep(0.05)
    # a crash leaves a row "running": simulate one on the stored queued job's neighbour
    db = sqlite3.connect(tmp_path / "jobs.sqlite")
    db.execute("INSERT INTO jobs (id, kind, status, settings, inputs, created) "
               "VALUES ('crashed', 'audio', 'running', '{}', '{}', 0)")  # fmt: skip
    db.commit()
    db.close()
    with LiveServer(tmp_path, models) as server:
        assert requests.get(f"{server.url}/api/jobs/{done['id']}").json()["status"] == "done"
        assert requests.get(f"{server.url}/api/jobs/{done['id']}/result").status_code == 200
        for job_id in (running["id"], "crashed"):
            status = requests.get(f"{server.url}/api/jobs/{job_id}").json()
            assert status["status"] == "failed" and "server stopped" in status["error"]
        rerun = server.wait(queued["id"])
        assert rerun["status"] == "done"
        sidecar = requests.get(server.url + rerun["result"]["sidecar"]).json()
        assert (sidecar["prompt"], sidecar["seed"]) == ("waits", 4)


def test_token(models: list[str], tmp_path: Path) -> None:
    with LiveServer(tmp_path, models, token="s3cret-token") as server:
        for path in ("/api/health", "/openapi.json", "/", "/api/jobs"):
            answer = requests.get(server.url + path)
            assert answer.status_code == 401 and "token" in answer.json()["detail"]
        wrong = requests.get(f"{server.url}/api/health", headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        bearer = {"Authorization": "Bearer s3cret-token"}
        assert requests.get(f"{server.url}/api/health", headers=bearer).status_code == 200
        assert requests.get(f"{server.url}/api/health?token=s3cret-token").status_code == 200


def test_host_token_rules(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.delenv("AVGEN_TOKEN", raising=False)
    assert resolve_token("127.0.0.1", None) is None and resolve_token("::1", None) is None
    with pytest.raises(AvgenError, match="--token"):
        resolve_token("0.0.0.0", None)
    assert resolve_token("0.0.0.0", "long-enough") == "long-enough"
    with pytest.raises(AvgenError, match="at least 8"):
        resolve_token("0.0.0.0", "short")
    monkeypatch.setenv("AVGEN_TOKEN", "from-the-env")
    assert resolve_token("192.168.1.5", None) == "from-the-env"
    monkeypatch.delenv("AVGEN_TOKEN")
    with pytest.raises(SystemExit) as exc:
        cli.main(["serve", "--host", "0.0.0.0"])
    assert exc.value.code == 2 and "AVGEN_TOKEN" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["serve", "--device", "cuda:99", "--results-dir", str(tmp_path / "r")])
    assert exc.value.code == 2 and "cuda:99" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    for flag in ("--workers", "--max-queue", "--max-steps"):
        with pytest.raises(SystemExit) as exc:
            cli.main(["serve", flag, "0", "--results-dir", str(tmp_path / "r")])
        assert exc.value.code == 2 and f"{flag} must be" in capsys.readouterr().err


def test_model_flags(tmp_path: Path, models: list[str]) -> None:
    entries = parse_model_flags(models)
    kinds = {(e.kind, e.name) for e in entries}
    assert {("audio", "tiny"), ("video", "tinyv"), ("audio", "default")} <= kinds
    with pytest.raises(AvgenError, match="NAME=DIR"):
        parse_model_flags(["tiny"])
    with pytest.raises(AvgenError, match="no such folder"):
        parse_model_flags([f"x={tmp_path / 'missing'}"])
    with pytest.raises(AvgenError, match="not an audio model, video model or LoRA"):
        parse_model_flags([f"x={tmp_path}"])
    with pytest.raises(AvgenError, match="twice"):
        parse_model_flags([models[0], models[0]])


def _midi_bytes() -> bytes:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    piano = pretty_midi.Instrument(program=0)
    for k, pitch in enumerate((60, 64, 67, 72)):
        piano.notes.append(
            pretty_midi.Note(velocity=90, pitch=pitch, start=0.5 * k, end=0.5 * k + 0.4)
        )
    pm.instruments.append(piano)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def test_note_plans_from_prompt_and_midi(server: LiveServer) -> None:
    url = f"{server.url}/api/plan"
    body = {"prompt": "upbeat jazz saxophone solo at 120 BPM, 4 seconds", "seed": 1}
    planned = requests.post(url, json=body).json()["plan"]
    assert planned["tempo_bpm"] == 120 and planned["duration_s"] == 4 and planned["notes"]
    assert requests.post(url, json=body).json()["plan"] == planned  # seeded
    nothing = requests.post(url, json={"prompt": "wind in the trees"}).json()
    assert nothing["plan"] is None and "nothing to play" in nothing["message"]
    assert requests.post(url, json={}).status_code == 422
    upload = requests.post(f"{url}/upload", files={"melody": ("tune.mid", _midi_bytes())})
    assert upload.status_code == 200, upload.text
    assert [n["pitch"] for n in upload.json()["plan"]["notes"]] == [60, 64, 67, 72]
    broken = requests.post(f"{url}/upload", files={"melody": ("tune.mid", b"not midi")})
    assert broken.status_code == 422 and "the melody is not a readable" in broken.json()["detail"]
    assert str(server.app.state.config.results_dir) not in broken.json()["detail"]
    odd = requests.post(f"{url}/upload", files={"melody": ("tune.txt", b"x")})
    assert odd.status_code == 415


def test_upload_init_image_for_video(server: LiveServer) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (255, 0, 0)).save(buf, format="PNG")
    settings = json.dumps({"kind": "video", "prompt": "a ball", "model": "tinyv", "num_frames": 3})
    answer = requests.post(f"{server.url}/api/jobs/upload", data={"settings": settings},
                           files={"init_image": ("red.png", buf.getvalue())})  # fmt: skip
    assert answer.status_code == 201, answer.text
    status = server.wait(answer.json()["id"])
    assert status["status"] == "done", status["error"]
    sidecar = requests.get(server.url + status["result"]["sidecar"]).json()
    assert Path(sidecar["settings"]["init_image"]).name == "init_image.png"


def test_cli_serve_starts_answers_and_stops(tmp_path: Path) -> None:
    """`avgen serve` itself, in a child process: it answers, then stops on SIGINT."""
    import os
    import signal
    import subprocess

    from helpers import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("AVGEN_TOKEN", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "avgen.cli", "serve", "--port", str(port),
         "--results-dir", str(tmp_path / "r"), "--max-queue", "3"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).json()
                break
            except requests.ConnectionError:
                assert child.poll() is None and time.time() < deadline
                time.sleep(0.2)
        assert health["max_queue"] == 3 and health["workers"] == 1
        assert (tmp_path / "r" / "jobs.sqlite").is_file()
    finally:
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=30)
    assert child.returncode == 0, out
    assert f"http://127.0.0.1:{port}/" in out


def test_jobs_with_plans_melodies_and_text_only(server: LiveServer) -> None:
    """Audio jobs follow a plan given inline, a plan file or a MIDI melody (models whose
    denoiser reads plans); plan false is text only; a text-only model refuses a plan."""
    base = {"kind": "audio", "prompt": "a piano melody", "model": "planned", "seed": 2}
    body = {"prompt": "a piano melody, 2 seconds", "seed": 2}
    planned = requests.post(f"{server.url}/api/plan", json=body).json()["plan"]
    inline = post(server, **base, plan=planned).json()
    side = requests.get(server.url + server.wait(inline["id"])["result"]["sidecar"]).json()
    assert side["plan_source"] == "given" and side["settings"]["plan"]["notes"] == planned["notes"]
    off = post(server, **base, plan=False).json()
    side = requests.get(server.url + server.wait(off["id"])["result"]["sidecar"]).json()
    assert side["plan_source"] == "off" and side["settings"]["plan"] is False
    settings = json.dumps(base)
    melody = requests.post(f"{server.url}/api/jobs/upload", data={"settings": settings},
                           files={"melody": ("tune.mid", _midi_bytes())}).json()  # fmt: skip
    status = server.wait(melody["id"])
    assert status["status"] == "done", status["error"]
    side = requests.get(server.url + status["result"]["sidecar"]).json()
    assert side["plan_source"] == "midi"
    assert [n["pitch"] for n in side["settings"]["plan"]["notes"]] == [60, 64, 67, 72]
    both = requests.post(f"{server.url}/api/jobs/upload",
                         data={"settings": json.dumps({**base, "plan": planned})},
                         files={"plan": ("p.json", json.dumps(planned).encode())})  # fmt: skip
    assert both.status_code == 422 and "not both" in both.json()["detail"]
    refused = post(server, **{**base, "model": "tiny"}, plan=planned).json()
    failed = server.wait(refused["id"])
    assert failed["status"] == "failed" and "does not follow note plans" in failed["error"]


def test_motion_plan_of_a_video_prompt(server: LiveServer) -> None:
    body = {"kind": "video", "prompt": "a red ball bouncing on a grass field", "seed": 1}
    planned = requests.post(f"{server.url}/api/plan", json=body).json()["plan"]
    assert planned["kind"] == "motion" and planned["objects"][0]["meta"]["colour"] == "red"
    still = requests.post(f"{server.url}/api/plan", json={**body, "prompt": "a calm lake"}).json()
    assert still["plan"] is None and "nothing to move" in still["message"]
