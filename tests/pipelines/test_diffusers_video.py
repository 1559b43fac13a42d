"""DiffusersVideoPipeline: local Wan / LTX-Video / CogVideoX diffusers folders run through
``avgen video --model`` end to end, with tiny random-weight pipelines (no downloads)."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from avgen import api
from avgen.cli import main
from avgen.errors import AvgenError
from avgen.media import read_mp4, write_mp4
from avgen.pipelines.diffusers_video import DiffusersVideoPipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tiny_diffusers lives beside us
import tiny_diffusers as tiny  # noqa: E402

FAST = ["--steps", "2", "--quiet", "--upscale", "0"]


@pytest.fixture(scope="session")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return tiny.tiny_video_folders(tmp_path_factory)


@pytest.fixture(scope="session")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An init image (off-size: it is scaled and cropped) and a 6-frame clip to extend."""
    root = tmp_path_factory.mktemp("video_inputs")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(root / "init.png")
    clip = np.clip(
        np.arange(6)[:, None, None, None] * 30 + rng.integers(0, 60, (6, 32, 32, 3)), 0, 255
    )
    write_mp4(root / "clip.mp4", clip.astype(np.uint8), 8)
    return {"image": root / "init.png", "clip": root / "clip.mp4"}


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``avgen`` in-process: (exit code, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code), capsys.readouterr().err


def video(folder: Path, out: Path, *extra: str) -> list[str]:
    return ["video", "a red ball on grass", "--model", str(folder), "-o", str(out), *FAST, *extra]


def test_native_defaults_and_rules(folders: dict[str, Path]) -> None:
    wan = api.video_pipeline(folders["WanPipeline"])
    assert isinstance(wan, DiffusersVideoPipeline)
    cfg = wan.config
    assert (cfg["width"], cfg["height"], cfg["num_frames"], cfg["fps"]) == (832, 480, 81, 16)
    assert (cfg["frame_step"], cfg["size_multiple"], cfg["guidance_scale"]) == (4, 16, 5.0)
    assert wan.modes() == {"text": "WanPipeline", "image": None, "extend": None}
    assert wan.window_plan(33) == [33] and wan.snap_frames(33) == 33
    with pytest.warns(UserWarning, match="4k\\+1 frames; using 33 instead of 32"):
        assert wan.snap_frames(32) == 33
    with pytest.warns(UserWarning, match="width 40 is not a multiple of 16 \\(Wan\\); using 48"):
        assert wan.snap_size(40, 32) == (48, 32)
    with pytest.raises(AvgenError, match="width must be from 16 to 2048"):
        wan.snap_size(8, 32)
    ltx = api.video_pipeline(folders["LTXPipeline"]).config
    assert (ltx["width"], ltx["height"], ltx["fps"], ltx["size_multiple"]) == (704, 480, 25, 32)
    cog = api.video_pipeline(folders["CogVideoXPipeline"]).config  # its transformer's size
    assert (cog["width"], cog["height"], cog["fps"], cog["frame_step"]) == (32, 32, 8, 8)
    i2v = api.video_pipeline(folders["CogVideoXImageToVideoPipeline"])
    with pytest.raises(AvgenError, match="only generates 32x32"):
        i2v.snap_size(48, 32)


def test_wan_text_to_video_preview_sidecar_rerun(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "wan.mp4"
    argv = video(folders["WanPipeline"], out, "--width", "24", "--height", "16")
    argv += ["--num-frames", "8", "--fps", "8", "--preview", "--negative-prompt", "blurry"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, err = cli(argv, capsys)
    assert code == 0, err
    said = " ".join(str(w.message) for w in caught)
    assert "width 24 is not a multiple of 16 (Wan); using 32" in said
    assert "Wan makes 4k+1 frames; using 9 instead of 8" in said
    frames, fps, _, _ = read_mp4(out)
    assert frames.shape == (9, 16, 32, 3) and fps == 8
    assert (tmp_path / "wan.mp4.gif").is_file() and (tmp_path / "wan.mp4.png").is_file()
    record = json.loads((tmp_path / "wan.mp4.json").read_text())
    assert record["model_id"] == str(folders["WanPipeline"])
    s = record["settings"]
    assert (s["width"], s["height"], s["fps"], s["num_frames"]) == (32, 16, 8, 8)
    assert s["negative_prompt"] == "blurry" and s["model"] == str(folders["WanPipeline"])
    code, err = cli(
        ["rerun", str(tmp_path / "wan.mp4.json"), "-o", str(tmp_path / "again.mp4")], capsys
    )
    assert code == 0, err
    assert np.array_equal(read_mp4(tmp_path / "again.mp4")[0], frames)


def test_wan_text_and_image_model_when_expand_timesteps(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    """Wan 2.2 TI2V layout (``expand_timesteps``): one WanPipeline folder does both."""
    folder = tiny.copy_folder(folders["WanPipeline"], tmp_path / "ti2v")
    tiny.edit_model_index(folder, expand_timesteps=True)
    pipe = DiffusersVideoPipeline.from_pretrained(folder)
    assert pipe.modes()["image"] == "WanImageToVideoPipeline"
    image = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    runs = [
        pipe("a ball", num_inference_steps=2, num_frames=5, width=16, height=16, init_image=init,
             generator=torch.Generator().manual_seed(0))
        for init in (None, image)
    ]  # fmt: skip
    assert [r.settings["pipeline_class"] for r in runs] == [
        "WanPipeline",
        "WanImageToVideoPipeline",
    ]
    assert runs[1].frames.shape == (5, 16, 16, 3)
    assert not np.array_equal(runs[0].frames[0], runs[1].frames[0])  # the image's latent first


def test_wan_text_model_refuses_image_and_extend(
    folders: dict[str, Path],
    inputs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "x.mp4"
    for flag, what in (("--init-image", "image"), ("--extend", "clip")):
        code, err = cli(video(folders["WanPipeline"], out, flag, str(inputs[what])), capsys)
        assert code == 2
        assert "Wan text-to-video model (WanPipeline), which cannot" in err
        assert "use a Wan image-to-video folder (WanImageToVideoPipeline)" in err
    assert list(tmp_path.iterdir()) == []


def test_wan_image_to_video_and_extend(
    folders: dict[str, Path],
    inputs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = folders["WanImageToVideoPipeline"]
    size = ["--width", "16", "--height", "16", "--num-frames", "5"]
    code, err = cli(
        video(folder, tmp_path / "i.mp4", *size, "--init-image", str(inputs["image"])), capsys
    )
    assert code == 0, err
    assert read_mp4(tmp_path / "i.mp4")[0].shape == (5, 16, 16, 3)
    code, err = cli(
        video(folder, tmp_path / "e.mp4", *size, "--extend", str(inputs["clip"])), capsys
    )
    assert code == 0, err
    frames = read_mp4(tmp_path / "e.mp4")[0]
    assert frames.shape == (6 + 4, 16, 16, 3)  # the clip, then 4 new frames after its last
    assert json.loads((tmp_path / "e.mp4.json").read_text())["joins"] == [6]
    code, err = cli(video(folder, tmp_path / "t.mp4", *size), capsys)
    assert code == 2 and "image-to-video model" in err and "needs an init image" in err
    assert not (tmp_path / "t.mp4").exists()


def test_ltx_text_image_and_condition_extend(
    folders: dict[str, Path],
    inputs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = folders["LTXPipeline"]
    size = ["--width", "32", "--height", "32", "--num-frames", "5"]
    code, err = cli(video(folder, tmp_path / "t.mp4", *size), capsys)
    assert code == 0, err
    frames, fps, _, _ = read_mp4(tmp_path / "t.mp4")
    assert frames.shape == (5, 32, 32, 3) and fps == 25  # LTX's native frame rate
    code, err = cli(
        video(folder, tmp_path / "i.mp4", *size, "--init-image", str(inputs["image"])), capsys
    )
    assert code == 0, err
    assert read_mp4(tmp_path / "i.mp4")[0].shape == (5, 32, 32, 3)
    code, err = cli(
        video(folder, tmp_path / "e.mp4", *size, "--extend", str(inputs["clip"])), capsys
    )
    assert code == 0, err
    extended, clip = read_mp4(tmp_path / "e.mp4")[0], read_mp4(inputs["clip"])[0]
    assert extended.shape == (6 + 4, 32, 32, 3)
    assert np.abs(extended[:6].astype(int) - clip).mean() < 12  # the clip first (two encodes)
    opts = {"dtype": "fp32", "cpu_offload": False, "vae_slicing": False, "vae_tiling": False}
    pipe = api.video_pipeline(folder, "cpu", **opts)  # the instance the CLI used
    assert type(pipe._modes["LTXConditionPipeline"]).__name__ == "LTXConditionPipeline"
    assert pipe._modes["LTXConditionPipeline"].transformer is pipe.pipe.transformer  # shared
    steps: list[tuple[int, int]] = []
    out = pipe(
        "a ball",
        num_inference_steps=3,
        num_frames=5,
        width=32,
        height=32,
        callback=lambda i, n: steps.append((i, n)),
    )
    assert steps == [(1, 3), (2, 3), (3, 3)] and out.frames.shape == (5, 32, 32, 3)
    assert out.settings["pipeline_class"] == "LTXPipeline" and out.joins == []
    api.text_to_video(
        "a ball", tmp_path / "b.mp4", model=str(folder), dtype="bf16", num_inference_steps=2,
        num_frames=5, width=32, height=32, upscale=0, quiet=True,
    )  # fmt: skip
    assert read_mp4(tmp_path / "b.mp4")[0].shape == (5, 32, 32, 3)


def test_cogvideox_text_defaults_and_image_model(
    folders: dict[str, Path],
    inputs: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "c.mp4"
    code, err = cli(video(folders["CogVideoXPipeline"], out, "--duration", "1"), capsys)
    assert code == 0, err
    frames, fps, _, _ = read_mp4(out)
    assert frames.shape == (9, 32, 32, 3) and fps == 8  # 1 s at 8 fps -> 8k+1 = 9, native size
    refused = tmp_path / "c2.mp4"
    code, err = cli(
        video(folders["CogVideoXPipeline"], refused, "--init-image", str(inputs["image"])), capsys
    )
    assert code == 2 and "CogVideoX text-to-video model" in err and not refused.exists()
    folder = folders["CogVideoXImageToVideoPipeline"]
    code, err = cli(
        video(
            folder, tmp_path / "i.mp4", "--init-image", str(inputs["image"]), "--num-frames", "9"
        ),
        capsys,
    )
    assert code == 0, err
    assert read_mp4(tmp_path / "i.mp4")[0].shape == (9, 32, 32, 3)
    code, err = cli(
        video(folder, tmp_path / "e.mp4", "--extend", str(inputs["clip"]), "--num-frames", "9"),
        capsys,
    )
    assert code == 0, err
    assert read_mp4(tmp_path / "e.mp4")[0].shape == (6 + 8, 32, 32, 3)


def test_missing_file_and_foreign_class_leave_no_output(
    folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tiny.copy_folder(folders["LTXPipeline"], tmp_path / "broken")
    (broken / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    out = tmp_path / "out" / "x.mp4"
    code, err = cli(video(broken, out), capsys)
    assert code == 2 and "diffusion_pytorch_model.safetensors is missing" in err
    foreign = tiny.copy_folder(folders["LTXPipeline"], tmp_path / "foreign")
    tiny.edit_model_index(foreign, _class_name="LTXLatentUpsamplePipeline")
    code, err = cli(video(foreign, out), capsys)
    assert code == 2 and "LTXLatentUpsamplePipeline" in err and "WanPipeline" in err
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
