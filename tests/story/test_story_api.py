"""``avgen story`` / ``api.generate_story`` end to end with tiny random models: one MP4 with
H.264 + AAC and a sidecar, rerun byte for byte, streamed, and every bad input refused with one
sentence, exit code 2 and no file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avgen import api, cli
from avgen.audio.clap import CLAP
from avgen.audio.denoiser import AudioDenoiser
from avgen.audio.vae import MelVAE
from avgen.audio.vocoder import Vocoder
from avgen.media import probe, read_mp4
from avgen.pipelines.text_to_audio import TextToAudioPipeline
from avgen.pipelines.text_to_video import TextToVideoPipeline
from avgen.video import VideoDiT, VideoVAE


class FakeEncoder:
    """A deterministic stand-in for MiniLM: token states from a hash of each word."""

    dim = 16

    def encode(self, prompts: list[str], max_length: int = 64) -> dict[str, torch.Tensor]:
        words = prompts[0].split()[:max_length] or [""]
        tokens = torch.zeros(1, len(words), self.dim)
        for j, w in enumerate(words):
            seed = int(hashlib.sha256(w.encode()).hexdigest()[:8], 16)
            tokens[0, j] = torch.randn(self.dim, generator=torch.Generator().manual_seed(seed))
        mask = torch.ones(1, len(words), dtype=torch.bool)
        return {"tokens": tokens, "mask": mask,
                "pooled": torch.nn.functional.normalize(tokens.sum(1), dim=-1)}  # fmt: skip


def _video(layout_dim: int = 0) -> TextToVideoPipeline:
    torch.manual_seed(0)
    vae = VideoVAE(latent_channels=4, hidden_channels=8, stem_channels=4)
    dit = VideoDiT(latent_channels=4, hidden_size=32, depth=1, num_heads=1, text_dim=16,
                   layout_dim=layout_dim)  # fmt: skip
    for p in dit.parameters():  # DiT's zero init would make every output the same: perturb
        p.data.add_(0.02 * torch.randn_like(p))
    config = {"num_inference_steps": 2, "window_frames": 9, "context_latent_frames": 2}
    return TextToVideoPipeline(vae, dit, text_encoder=FakeEncoder(), config=config)


def _audio() -> TextToAudioPipeline:
    torch.manual_seed(0)
    vae = MelVAE(latent_channels=4, channels=(4, 8, 8))
    vocoder = Vocoder(dim=16, depth=1, mlp_mult=2)
    denoiser = AudioDenoiser(latent_channels=4, dim=32, depth=1, heads=2, mlp_ratio=2.0)
    clap = CLAP(channels=(4, 8), embed_dim=16)
    encoder = FakeEncoder()
    encoder.dim = 384
    cfg = {"num_inference_steps": 2, "guidance_scale": 2.0, "window_s": 2.0, "overlap_s": 0.5}
    return TextToAudioPipeline(vae, vocoder, denoiser, clap, encoder, cfg)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tiny video and audio folders, their pipelines (with fake text encoders) in api's cache."""
    root = tmp_path_factory.mktemp("story_models")
    video, audio = _video().to("cpu"), _audio().to("cpu")  # eval mode: no dropout
    vdir, adir = video.save_pretrained(root / "video"), root / "audio"
    audio.save_pretrained(adir)
    saved = dict(api._PIPELINES)
    api._PIPELINES[("video", str(vdir.resolve()), "cpu")] = video
    api._PIPELINES[("audio", str(adir.resolve()), "cpu")] = audio
    yield {"model": str(vdir), "audio_model": str(adir)}
    api._PIPELINES.clear()
    api._PIPELINES.update(saved)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code), out, err


def test_story_mp4_sidecar_and_byte_exact_rerun(models, tmp_path: Path, capsys) -> None:
    out = tmp_path / "story.mp4"
    argv = [
        "story", "a small red ball bouncing, with a gentle piano melody", "then it spins",
        "now it grows, with rain sounds", "--durations", "1", "0.75", "0.5", "-o", str(out),
        "--model", models["model"], "--audio-model", models["audio_model"], "--upscale", "0",
        "--seed", "5", "--quiet",
    ]  # fmt: skip
    code, printed, _ = _run(argv, capsys)
    assert code == 0 and printed.strip() == str(out)
    info = probe(out)
    kinds = {s["type"]: s for s in info["streams"]}
    assert kinds["video"]["codec"] == "h264" and kinds["audio"]["codec"] == "aac"
    frames, fps, audio, sr = read_mp4(out)
    assert frames.shape == (18, 64, 64, 3) and fps == 8.0  # 8 + 6 + 4 frames
    assert audio is not None and len(audio) == pytest.approx(2.25 * sr, abs=1024)
    record = json.loads(out.with_name("story.mp4.json").read_text())
    assert record["command"] == "story" and record["seed"] == 5
    assert record["shot_starts"] == [0, 8, 14] and record["num_frames"] == 18
    assert [s["duration_s"] for s in record["settings"]["shots"]] == [1.0, 0.75, 0.5]
    assert record["shot_prompts"][1].startswith("small red circle")  # the subject carried
    assert record["sound_prompts"] == ["a gentle piano melody"] * 2 + ["rain sounds"]
    plans = record["plans"]
    assert plans[1]["meta"]["continues"] is True
    end, start = plans[0]["objects"][0]["end"], plans[1]["objects"][0]["frames"][0]
    assert (start["x"], start["y"]) == pytest.approx((end["x"], end["y"]), abs=1e-4)
    again = tmp_path / "again.mp4"
    code, _, _ = _run(["rerun", str(out) + ".json", "-o", str(again)], capsys)
    assert code == 0 and again.read_bytes() == out.read_bytes()


def test_shots_file_story(models, tmp_path: Path) -> None:
    shots = tmp_path / "shots.json"
    shots.write_text(json.dumps({
        "subject": "a large green square",
        "shots": [{"prompt": "sliding to the right", "duration_s": 0.5, "sound": "a bell"},
                  {"prompt": "spinning", "duration_s": 0.5}],
    }))  # fmt: skip
    out = tmp_path / "s.mp4"
    api.generate_story(None, out, shots=shots, upscale=0, quiet=True, **models)
    record = json.loads(out.with_name("s.mp4.json").read_text())
    assert record["settings"]["subject"] == "a large green square"
    assert all("large green square" in p for p in record["shot_prompts"])
    assert record["sound_prompts"] == ["a bell", "a bell"]
    assert read_mp4(out)[0].shape[0] == 8


def test_story_continues_the_last_frames(models) -> None:
    """Shot 2 is the pipeline continuing shot 1's last frames (its extend context), and the
    frames reach the sink window by window."""
    from avgen.story import render_story

    pipe = api._PIPELINES[("video", str(Path(models["model"]).resolve()), "cpu")]
    calls: list[dict] = []

    class Spy:
        config, follows_plans = pipe.config, False

        def window_plan(self, *a, **k):
            return pipe.window_plan(*a, **k)

        def __call__(self, prompt, **kw):
            calls.append({"prompt": prompt, **kw})
            return pipe(prompt, **kw)

    frames: list[np.ndarray] = []
    made = render_story(Spy(), ["a red ball", "a blue square"], [8, 8], frames.append, seed=1)
    video = np.concatenate(frames)
    assert video.shape[0] == 16 and made.starts == [0, 8] and made.num_frames == 16
    assert len(frames) >= 3  # streamed: shot 1 in two windows of 9 frames, shot 2 after
    assert calls[0]["extend_video"] is None
    context = calls[1]["extend_video"]
    assert len(context) == pipe.context_frames()
    assert np.array_equal(context, video[8 - len(context) : 8])  # shot 1's last frames
    assert [c["generator"].initial_seed() for c in calls] == [1, 2]


@pytest.mark.parametrize(
    "argv, words",
    [
        (["story"], "at least one shot"),
        (["story", "a ball", "it spins", "--durations", "2"], "--durations has 1 value(s)"),
        (["story", "a ball", "--durations", "2", "--duration", "2"], "not both"),
        (["story", "a ball", "it spins", "--durations", "100", "30"], "130 s in all"),
        (["story", "a ball", "--duration", "121"], "and 120 seconds, got 121"),
        (["story", "a ball", "--shots", "SHOTS"], "not both"),
        (["story", "--shots", "SHOTS", "--durations", "2"], "drop --duration"),
        (["story", "--shots", "BADJSON"], "is not valid JSON"),
        (["story", "--shots", "NOFIELD"], "misses the field 'duration_s'"),
        (["story", "--shots", "MISSING"], "does not exist"),
        (["story", "a ball", "--upscale", "-1"], "upscale"),
        (["story", "a ball", "--audio-steps", "0"], "audio_steps"),
    ],
)
def test_bad_story_input_exits_2_without_a_file(
    models, tmp_path: Path, capsys, argv: list[str], words: str
) -> None:
    files = {
        "SHOTS": '{"shots": [{"prompt": "a ball", "duration_s": 1}]}',
        "BADJSON": '{"shots": [',
        "NOFIELD": '{"shots": [{"prompt": "a ball"}]}',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    argv = [str(tmp_path / a) if a in (*files, "MISSING") else a for a in argv]
    out = tmp_path / "out" / "s.mp4"
    code, _, err = _run([*argv, "-o", str(out), "--model", models["model"], "--quiet"], capsys)
    assert code == 2 and err.startswith("avgen: ") and len(err.strip().splitlines()) == 1
    assert words in err
    assert not out.exists() and not out.with_name("s.mp4.json").exists()
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_a_failing_story_leaves_no_file(models, tmp_path: Path) -> None:
    """An error while the frames stream (here: progress raising) publishes nothing."""

    def stop(i: int, n: int) -> None:
        if i >= 2:
            raise RuntimeError("stopped")

    out = tmp_path / "s.mp4"
    with pytest.raises(RuntimeError):
        api.generate_story(["a ball", "it spins"], out, durations=[1, 1], progress=stop,
                           quiet=True, **models)  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_a_model_that_follows_plans_gets_each_shots_plan(tmp_path: Path) -> None:
    """With a plan-following DiT each shot renders its continued plan (the story's code does
    not depend on which model it has)."""
    from avgen.story import carry_subject, plan_shots, render_story
    from avgen.video.layout import FEATURES

    pipe = _video(layout_dim=FEATURES).to("cpu")
    assert pipe.follows_plans
    prompts = carry_subject(["a small red ball sliding to the right", "then it is falling"])
    plans = plan_shots(prompts, [8, 8], 8, 64, 64, seed=0)
    got: dict[str, list[np.ndarray]] = {"plans": [], "none": []}
    render_story(pipe, prompts, [8, 8], got["plans"].append, seed=0, plans=plans)
    render_story(pipe, prompts, [8, 8], got["none"].append, seed=0, plans=[None, None])
    planned, plain = np.concatenate(got["plans"]), np.concatenate(got["none"])
    assert planned.shape == plain.shape == (16, 64, 64, 3)
    assert not np.array_equal(planned, plain)  # the layout input was used
    folder = pipe.save_pretrained(tmp_path / "m")
    key = ("video", str(folder.resolve()), "cpu")
    api._PIPELINES[key] = pipe
    audio = _audio().to("cpu")
    adir = tmp_path / "a"
    audio.save_pretrained(adir)
    api._PIPELINES[("audio", str(adir.resolve()), "cpu")] = audio
    try:
        out = tmp_path / "s.mp4"
        api.generate_story(prompts, out, durations=[1, 1], model=str(folder),
                           audio_model=str(adir), upscale=0, quiet=True)  # fmt: skip
    finally:
        api._PIPELINES.pop(key)
        api._PIPELINES.pop(("audio", str(adir.resolve()), "cpu"))
    record = json.loads(out.with_name("s.mp4.json").read_text())
    assert record["follows_plans"] is True and record["plans"][1]["meta"]["continues"]
