"""PhenakiPipeline with tiny random models: windows primed with the last frames' tokens, init
image and extension through prime tokens, motion-plan layouts, save/load and bad input."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from avgen.errors import AvgenError
from avgen.pipelines.phenaki import PIPELINE_CONFIG, PhenakiPipeline
from avgen.pipelines.text_to_video import to_tensor
from avgen.video.layout import FEATURES
from avgen.video.maskgit import MaskGIT

sys.path.insert(0, str(Path(__file__).resolve().parent))  # phenaki_tiny lives beside us
from phenaki_tiny import FakeEncoder, tiny_phenaki  # noqa: E402


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def pipe() -> PhenakiPipeline:
    return tiny_phenaki()


class Spy:
    """Records what each window's MaskGIT decoding was given."""

    def __init__(self, pipe: PhenakiPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict] = []
        original = pipe.generate_tokens

        def generate_tokens(grid, cond, uncond, prime, layout, *args):
            tokens = original(grid, cond, uncond, prime, layout, *args)
            self.calls.append({"prime": prime, "layout": layout, "tokens": tokens})
            return tokens

        monkeypatch.setattr(pipe, "generate_tokens", generate_tokens)


def test_windows_shapes_and_determinism(pipe: PhenakiPipeline) -> None:
    out = pipe("a red ball moving left", num_frames=30, generator=gen())
    assert out.frames.shape == (30, 64, 64, 3) and out.frames.dtype == np.uint8
    # 17 frames, then 12 new per window after 5 context frames
    assert out.settings["windows"] == 3 and out.joins == [17, 29]
    assert out.settings["engine"] == "phenaki"
    assert pipe.window_plan(30) == [17, 12, 1]
    assert pipe.window_plan(30, has_context=True) == [12, 12, 6]
    again = pipe("a red ball moving left", num_frames=30, generator=gen())
    assert np.array_equal(out.frames, again.frames)
    other = pipe("a red ball moving left", num_frames=30, generator=gen(1))
    assert not np.array_equal(out.frames, other.frames)
    # temperature 0: greedy decoding, no randomness left
    a = pipe("a red ball", num_frames=4, generator=gen(0), temperature=0.0)
    b = pipe("a red ball", num_frames=4, generator=gen(1), temperature=0.0)
    assert np.array_equal(a.frames, b.frames)


def test_later_windows_are_primed_with_the_last_frames_tokens(
    pipe: PhenakiPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(pipe, monkeypatch)
    out = pipe("a blue square", num_frames=20, generator=gen())
    first, second = spy.calls
    assert first["prime"] is None and first["tokens"].shape == (1, 9, 8, 8)
    assert pipe.context_frames() == 5 and pipe.prime_steps() == 3
    want = pipe.tokenizer.encode(to_tensor(out.frames[12:17]))
    assert torch.equal(second["prime"], want)
    assert torch.equal(second["tokens"][:, :3], want)  # prime tokens are kept


def test_init_image_and_extend_go_through_prime_tokens(
    pipe: PhenakiPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(pipe, monkeypatch)
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, 32:] = 220
    out = pipe("a blue square", num_frames=6, init_image=image, generator=gen())
    prime = spy.calls[-1]["prime"]
    assert prime.shape == (1, 1, 8, 8)
    assert torch.equal(prime, pipe.tokenizer.encode(to_tensor(image[None])))
    assert torch.equal(spy.calls[-1]["tokens"][:, :1], prime)  # kept as the first step
    assert out.frames.shape == (6, 64, 64, 3)  # the image's frame is the first of the six
    clip = np.full((9, 64, 64, 3), 60, np.uint8)
    clip[-5:, :, :20] = 250
    out = pipe("a blue square", num_frames=7, extend_video=clip, generator=gen())
    assert out.frames.shape == (16, 64, 64, 3) and out.joins == [9]
    assert np.array_equal(out.frames[:9], clip)  # the extended clip comes first
    assert torch.equal(spy.calls[-1]["prime"], pipe.tokenizer.encode(to_tensor(clip[-5:])))
    short = pipe("a blue square", num_frames=3, extend_video=clip[:2], generator=gen())
    assert short.frames.shape == (5, 64, 64, 3)
    with pytest.raises(AvgenError, match="not both"):
        pipe("a ball", num_frames=2, init_image=image, extend_video=clip)


def test_motion_plans_reach_the_layout_input(monkeypatch: pytest.MonkeyPatch) -> None:
    from avgen.story import plan_shots

    plain = tiny_phenaki()
    assert not plain.follows_plans
    (plan,) = plan_shots(["a small red ball sliding to the right"], [24], 8, 64, 64, seed=0)
    with pytest.raises(AvgenError, match="does not follow motion plans"):
        plain("a ball", num_frames=4, motion_plan=plan)
    planned = tiny_phenaki(layout_dim=FEATURES)
    assert planned.follows_plans
    spy = Spy(planned, monkeypatch)
    out = planned("a small red ball", motion_plan=plan, generator=gen())
    assert out.frames.shape[0] == 24 and out.settings["motion_plan"]  # the plan's duration
    layouts = [c["layout"] for c in spy.calls]
    assert [tuple(x.shape) for x in layouts] == [(1, FEATURES, 9, 8, 8)] * 2
    assert layouts[0][0, 0].eq(1).all() and layouts[0][0, 1].sum() > 0  # plan + occupancy
    # the second window's layout starts at its context frames (video frame 17 - 5 = 12)
    from avgen.video.layout import window_layout

    want = window_layout(plan, 12, 9, 8, 8, 8, 2)
    np.testing.assert_allclose(layouts[1][0].numpy(), want)
    with torch.no_grad():  # open the zero-initialised layout path: the plan changes the video
        planned.maskgit.layout_in[2].weight.normal_(0, 0.5)
    a = planned("a small red ball", num_frames=6, motion_plan=plan, generator=gen())
    b = planned("a small red ball", num_frames=6, generator=gen())
    assert not np.array_equal(a.frames, b.frames)


def test_sizes_snap_to_the_token_grid(pipe: PhenakiPipeline) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pipe.snap_size(64, 48) == (64, 48)
    with pytest.warns(UserWarning, match="multiple of 8"):
        assert pipe.snap_size(60, 64) == (64, 64)
    with pytest.warns(UserWarning, match="token grid"):
        assert pipe.snap_size(128, 64) == (64, 64)
    out = pipe("a ball", num_frames=3, width=48, height=32, generator=gen())
    assert out.frames.shape == (3, 32, 48, 3)


def test_frame_counts_and_bad_inputs(pipe: PhenakiPipeline) -> None:
    assert pipe("a blue square for 2 seconds", fps=4, generator=gen()).frames.shape[0] == 8
    with pytest.raises(AvgenError, match="empty"):
        pipe("  ", num_frames=2)
    with pytest.raises(AvgenError):
        pipe("a ball", num_frames=0)
    with pytest.raises(AvgenError, match="temperature"):
        pipe("a ball", num_frames=2, temperature=-1.0)


def test_save_load_round_trip_and_wrong_folders(pipe: PhenakiPipeline, tmp_path: Path) -> None:
    folder = pipe.save_pretrained(tmp_path / "m")
    config = json.loads((folder / PIPELINE_CONFIG).read_text())
    assert config["_class"] == "PhenakiPipeline" and config["engine"] == "phenaki"
    assert config["context_frames"] == 5 and config["num_inference_steps"] == 2
    assert (folder / "tokenizer" / "config.json").is_file()
    assert (folder / "maskgit" / "model.safetensors").is_file()
    loaded = PhenakiPipeline.from_pretrained(folder, text_encoder=FakeEncoder())
    a = pipe("a ball", num_frames=5, generator=gen())
    b = loaded("a ball", num_frames=5, generator=gen())
    assert np.array_equal(a.frames, b.frames)
    with pytest.raises(AvgenError, match="not an avgen video model folder"):
        PhenakiPipeline.from_pretrained(tmp_path)
    small = MaskGIT(codebook_size=7, max_t=9, h=8, w=8, hidden_size=32, num_layers=1,
                    num_heads=2, text_dim=16)  # fmt: skip
    small.save_pretrained(folder / "maskgit")
    with pytest.raises(AvgenError, match="token ids but the tokenizer has"):
        PhenakiPipeline.from_pretrained(folder)
    with pytest.raises(AvgenError, match="context_frames"):
        PhenakiPipeline(pipe.tokenizer, pipe.maskgit, config={"context_frames": 17})
