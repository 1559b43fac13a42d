"""TextToVideoPipeline and api.text_to_video with tiny random models, plus one shipped-model run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from avgen import api
from avgen.errors import AvgenError
from avgen.media import read_mp4, write_mp4
from avgen.pipelines.text_to_video import (
    PIPELINE_CONFIG,
    TextToVideoPipeline,
    default_video_model_dir,
    join_continuity,
    to_frames,
    to_tensor,
)
from avgen.video import VideoDiT, VideoVAE

TINY_TEXT_DIM = 16


class FakeEncoder:
    """A deterministic stand-in for MiniLM: tokens from the prompt's hash."""

    dim = TINY_TEXT_DIM

    def encode(self, prompts: list[str], max_length: int = 64) -> dict[str, torch.Tensor]:
        seed = int(hashlib.sha256(prompts[0].encode()).hexdigest()[:8], 16)
        g = torch.Generator().manual_seed(seed)
        tokens = torch.randn(1, 5, self.dim, generator=g)
        return {"tokens": tokens, "mask": torch.ones(1, 5, dtype=torch.bool),
                "pooled": torch.nn.functional.normalize(tokens.mean(1), dim=-1)}  # fmt: skip


def tiny_models(text_dim: int = TINY_TEXT_DIM) -> tuple[VideoVAE, VideoDiT]:
    torch.manual_seed(0)
    vae = VideoVAE(latent_channels=4, hidden_channels=8, stem_channels=4)
    dit = VideoDiT(latent_channels=4, hidden_size=32, depth=1, num_heads=1, text_dim=text_dim)
    for p in dit.parameters():  # DiT's zero init would make every output the same: perturb
        p.data.add_(0.02 * torch.randn_like(p))
    return vae, dit


@pytest.fixture(scope="module")
def pipe() -> TextToVideoPipeline:
    vae, dit = tiny_models()
    config = {"num_inference_steps": 2, "window_frames": 9, "context_latent_frames": 2}
    return TextToVideoPipeline(vae, dit, text_encoder=FakeEncoder(), config=config)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_shapes_windows_and_determinism(pipe: TextToVideoPipeline) -> None:
    out = pipe("a red ball moving left", num_frames=20, generator=gen())
    assert out.frames.shape == (20, 64, 64, 3) and out.frames.dtype == np.uint8
    assert out.settings["windows"] == 4  # 9 new, then 4 new per window (5 frames of context)
    assert out.joins == [9, 13, 17]
    again = pipe("a red ball moving left", num_frames=20, generator=gen())
    assert np.array_equal(out.frames, again.frames)
    other = pipe("a red ball moving left", num_frames=20, generator=gen(1))
    assert not np.array_equal(out.frames, other.frames)
    cont = join_continuity(out.frames, out.joins)
    assert all(np.isfinite(v) for v in cont.values())


def test_duration_from_prompt_and_native_sizes(pipe: TextToVideoPipeline) -> None:
    out = pipe("a blue square for 2 seconds", generator=gen(), fps=4)
    assert out.frames.shape[0] == 8  # 2 s at 4 fps
    out = pipe("a blue square", num_frames=3, width=96, height=48, generator=gen())
    assert out.frames.shape == (3, 48, 96, 3)
    with pytest.warns(UserWarning, match="width 70 is not a multiple of 8; using 72"):
        out = pipe("a blue square", num_frames=2, width=70, height=64, generator=gen())
    assert out.frames.shape == (2, 64, 72, 3)


def test_init_image_is_the_first_frame(pipe: TextToVideoPipeline) -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    image[20:40, 10:30] = (220, 30, 30)
    out = pipe("a red square", num_frames=9, init_image=image, generator=gen())
    # the causal VAE decodes frame 0 from latent frame 0 alone, which the sampler keeps exactly
    vae = pipe.vae
    roundtrip = to_frames(vae.decode_latents(vae.encode_frames(to_tensor(image[None])))[0])[0]
    assert np.abs(out.frames[0].astype(int) - roundtrip.astype(int)).max() <= 1
    assert not np.array_equal(out.frames[0], out.frames[-1])


def test_extend_keeps_the_source_and_adds_frames(pipe: TextToVideoPipeline) -> None:
    source = pipe("a green circle", num_frames=9, generator=gen()).frames
    out = pipe("a green circle", num_frames=6, extend_video=source, generator=gen())
    assert out.frames.shape[0] == 9 + 6
    assert np.array_equal(out.frames[:9], source)
    assert out.joins == [9, 13] and out.settings["source_frames"] == 9


def test_bad_inputs(pipe: TextToVideoPipeline, tmp_path: Path) -> None:
    with pytest.raises(AvgenError, match="num_frames must be from 1 to 960"):
        pipe("a ball", num_frames=961)
    with pytest.raises(AvgenError, match="num_frames"):
        pipe("a ball", num_frames=0)
    with pytest.raises(AvgenError, match="duration"):
        pipe("a ball", duration_s=121.0)
    with pytest.raises(AvgenError, match="steps"):
        pipe("a ball", num_frames=2, num_inference_steps=0)
    with pytest.raises(AvgenError, match="fps"):
        pipe("a ball", num_frames=2, fps=0)
    with pytest.raises(AvgenError, match="width"):
        pipe("a ball", num_frames=2, width=8)
    with pytest.raises(AvgenError, match="prompt is empty"):
        pipe("  ", num_frames=2)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    with pytest.raises(AvgenError, match="not a readable image"):
        pipe("a ball", num_frames=2, init_image=bad)
    with pytest.raises(AvgenError, match="not both"):
        pipe("a ball", num_frames=2, init_image=bad, extend_video=bad)


def test_save_load_round_trip_and_wrong_folders(pipe: TextToVideoPipeline, tmp_path: Path) -> None:
    folder = pipe.save_pretrained(tmp_path / "m")
    loaded = TextToVideoPipeline.from_pretrained(folder, text_encoder=FakeEncoder())
    a = pipe("a ball", num_frames=5, generator=gen())
    b = loaded("a ball", num_frames=5, generator=gen())
    assert np.array_equal(a.frames, b.frames)
    with pytest.raises(AvgenError, match="not an avgen video model folder"):
        TextToVideoPipeline.from_pretrained(tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / PIPELINE_CONFIG).write_text(json.dumps({"_class": "TextToAudioPipeline"}))
    with pytest.raises(AvgenError, match="foreign"):
        TextToVideoPipeline.from_pretrained(tmp_path / "x")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model folder that uses the real MiniLM (for the api)."""
    vae, dit = tiny_models(text_dim=384)
    config = {"num_inference_steps": 2, "window_frames": 9}
    pipe = TextToVideoPipeline(vae, dit, text_encoder=FakeEncoder(), config=config)
    return pipe.save_pretrained(tmp_path_factory.mktemp("tiny_video_model"))


def test_api_writes_mp4_sidecar_preview_and_reruns(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    paths = api.text_to_video(
        "a red ball bouncing for 1 second", out, model=str(model_dir), preview=True,
        upscale=128, quiet=True, seed=3,
    )  # fmt: skip
    assert paths == [out]
    frames, fps, _, _ = read_mp4(out)
    assert frames.shape == (8, 128, 128, 3) and fps == 8
    assert (tmp_path / "clip.mp4.gif").is_file() and (tmp_path / "clip.mp4.png").is_file()
    record = json.loads((tmp_path / "clip.mp4.json").read_text())
    assert record["command"] == "video" and record["seed"] == 3
    assert record["settings"]["num_frames"] == 8 and record["settings"]["upscale"] == 128
    again = api.rerun(tmp_path / "clip.mp4.json", tmp_path / "again.mp4")[0]
    assert np.array_equal(read_mp4(again)[0], frames)


def test_api_batch_extend_and_init_image(model_dir: Path, tmp_path: Path) -> None:
    paths = api.text_to_video(
        "a blue square", tmp_path / "b.mp4", model=str(model_dir), num_frames=3, batch=2,
        upscale=0, quiet=True,
    )  # fmt: skip
    assert [p.name for p in paths] == ["b_0.mp4", "b_1.mp4"]
    assert json.loads((tmp_path / "b_1.mp4.json").read_text())["seed"] == 1
    src = np.full((5, 64, 64, 3), 90, np.uint8)
    write_mp4(tmp_path / "src.mp4", src, 8)
    ext = api.text_to_video(
        "a blue square", tmp_path / "e.mp4", model=str(model_dir), num_frames=4,
        extend=str(tmp_path / "src.mp4"), upscale=0, quiet=True,
    )[0]  # fmt: skip
    assert read_mp4(ext)[0].shape[0] == 9
    Image.fromarray(np.full((32, 48, 3), 200, np.uint8)).save(tmp_path / "init.png")
    api.text_to_video(
        "a blue square", tmp_path / "i.mp4", model=str(model_dir), num_frames=2,
        init_image=str(tmp_path / "init.png"), upscale=0, quiet=True,
    )  # fmt: skip
    assert read_mp4(tmp_path / "i.mp4")[0].shape == (2, 64, 64, 3)


def test_api_bad_input_leaves_no_file(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    cases = [
        {"num_frames": 1000},
        {"duration_s": 125.0},
        {"init_image": str(tmp_path / "missing.png")},
        {"extend": str(tmp_path / "missing.mp4")},
        {"fps": 0},
        {"upscale": -1},
        {"frobnicate": 1},
    ]
    for kwargs in cases:
        with pytest.raises(AvgenError):
            api.text_to_video("a ball", out, model=str(model_dir), quiet=True, **kwargs)
    with pytest.raises(AvgenError, match="not an avgen video model folder"):
        api.text_to_video("a ball", out, model=str(tmp_path), quiet=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(
    not (default_video_model_dir() / PIPELINE_CONFIG).is_file(), reason="no shipped video model"
)
def test_shipped_model_generates(tmp_path: Path) -> None:
    out = tmp_path / "ball.mp4"
    api.text_to_video(
        "a red ball bouncing on a grass field", out, num_inference_steps=2, num_frames=9,
        quiet=True,
    )  # fmt: skip
    frames, fps, _, _ = read_mp4(out)
    assert frames.shape == (9, 256, 256, 3) and fps == 8
    assert np.isfinite(frames.astype(np.float32)).all() and frames.std() > 1.0
    record = json.loads((tmp_path / "ball.mp4.json").read_text())
    assert record["model_id"] == "avgen/models/video" and record["command"] == "video"
