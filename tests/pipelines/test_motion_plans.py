"""Motion plans through the DiT, the pipeline, the API and the CLI (tiny random models)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from avgen.errors import AvgenError
from avgen.pipelines.text_to_video import TextToVideoPipeline
from avgen.plan import MotionPlan
from avgen.plan.motion import EndState, ObjectFrame, PlannedObject
from avgen.video import VideoDiT, VideoVAE
from avgen.video.layout import FEATURES, SLOTS, latent_video_frames, window_layout

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_text_to_video import TINY_TEXT_DIM, FakeEncoder  # noqa: E402


def _dit(layout_dim: int = FEATURES) -> VideoDiT:
    torch.manual_seed(0)
    return VideoDiT(latent_channels=4, hidden_size=32, num_layers=1, num_heads=1,
                    text_dim=TINY_TEXT_DIM, layout_dim=layout_dim)  # fmt: skip


def _wake(model: VideoDiT, layout: bool = True) -> None:
    """Give every zero-initialised weight some value, as training would (the layout input's
    output layer only when ``layout``)."""
    torch.manual_seed(1)
    keep = {"layout_in.2.weight", "layout_in.2.bias"} if not layout else set()
    for name, p in model.named_parameters():
        if name not in keep:
            p.data.normal_(0.0, 0.2)


def _plan(frames: int = 24, fps: int = 8, vx: float = 0.03, objects: int = 1) -> MotionPlan:
    """Objects moving sideways at ``vx`` frame widths per frame from x = 0.2 (0.8 if vx < 0)."""
    objs = []
    for i in range(objects):
        x0, y = (0.2 if vx > 0 else 0.8), 0.3 + 0.4 * i
        track = [ObjectFrame(x0 + vx * k, y, 0.2, 0.2) for k in range(frames)]
        objs.append(PlannedObject(i, track, EndState(track[-1].x, y, vx * fps, 0.0)))
    return MotionPlan(fps, frames, objects=objs)


def _x(b: int) -> dict:
    return {
        "tokens": torch.randn(b, 3, TINY_TEXT_DIM),
        "mask": torch.ones(b, 3, dtype=torch.bool),
        "pooled": torch.randn(b, TINY_TEXT_DIM),
    }


def test_layout_features_hold_position_size_and_identity_not_colour() -> None:
    plan = _plan(objects=2)
    feats = window_layout(plan, 0, 3, 16, 16, 8, 4)  # (FEATURES, 3, 16, 16)
    assert feats.shape == (FEATURES, 3, 16, 16)
    assert (feats[0] == 1).all()  # "a plan is given" everywhere
    occupied = feats[1] > 0
    assert occupied[0, :, :8].any() and not occupied[0, :, 10:].any()  # starts left
    assert latent_video_frames(3, 4) == [0, 2, 6]
    cols = [np.nonzero(occupied[j].any(0))[0].mean() for j in range(3)]
    assert cols[0] < cols[1] < cols[2]  # moves right, frame by frame
    # two objects: two instance slots, each on its own rows
    assert feats[6, 0, :8].any() and not feats[6, 0, 8:].any()
    assert feats[7, 0, 8:].any() and not feats[7, 0, :8].any()
    assert SLOTS >= 2
    # the words it came from (colour, shape) never enter it
    red = _plan(objects=2)
    red.objects[0].meta = {"colour": "red", "shape": "square"}
    assert np.array_equal(window_layout(red, 0, 3, 16, 16, 8, 4), feats)
    # a later window gets its part: its first latent frame is the plan at that frame
    late = window_layout(plan, 13, 3, 16, 16, 8, 4)
    assert np.array_equal(late[:, 0], window_layout(plan.window(13, 24), 0, 1, 16, 16, 8, 4)[:, 0])
    # a plan at another frame rate is read by time: 16 fps frame 4 = 8 fps frame 2
    fast = _plan(48, 16, 0.015)
    one = window_layout(_plan(), 0, 2, 16, 16, 8, 4)
    assert np.allclose(window_layout(fast, 0, 2, 16, 16, 8, 4)[:6], one[:6])


def test_dit_layout_input_starts_silent_then_matters() -> None:
    model = _dit()
    _wake(model, layout=False)
    x, t, cond = torch.randn(2, 4, 3, 16, 16), torch.tensor([0.3, 0.7]), _x(2)
    layout = torch.from_numpy(window_layout(_plan(), 0, 3, 16, 16, 8, 4))[None].expand(
        2, -1, -1, -1, -1
    )
    plain = model(x, t, cond)
    assert torch.equal(plain, model(x, t, {**cond, "layout": layout}))  # zero init
    with torch.no_grad():
        model.layout_in[2].weight.normal_(0.0, 0.2)
    assert not torch.allclose(plain, model(x, t, {**cond, "layout": layout}))
    # no plan is the zero layout plan dropout trains (the MLP's biases still act)
    zero = model(x, t, {**cond, "layout": 0 * layout})
    assert torch.allclose(model(x, t, cond), zero, atol=1e-5)
    assert not torch.allclose(plain, model(x, t, cond))
    with pytest.raises(AvgenError, match=r"cond\['layout'\] has shape"):
        model(x, t, {**cond, "layout": layout[:, :, :2]})
    # a text-only model ignores the key and has no layout weights (the shipped model loads)
    old = _dit(layout_dim=0)
    _wake(old)
    assert not any("layout_in" in k for k in old.state_dict())
    assert torch.equal(old(x, t, cond), old(x, t, {**cond, "layout": layout}))


def _pipeline(layout_dim: int = FEATURES) -> TextToVideoPipeline:
    torch.manual_seed(0)
    vae = VideoVAE(latent_channels=4, hidden_channels=8, stem_channels=4)
    dit = _dit(layout_dim)
    _wake(dit)
    cfg = {"num_inference_steps": 2, "window_frames": 9, "context_latent_frames": 2}
    return TextToVideoPipeline(vae, dit, text_encoder=FakeEncoder(), config=cfg)


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(3)


def test_pipeline_follows_the_plan_window_by_window() -> None:
    pipe = _pipeline()
    assert pipe.follows_plans
    right = pipe("a ball", motion_plan=_plan(24, vx=0.03), generator=_gen())
    left = pipe("a ball", motion_plan=_plan(24, vx=-0.03), generator=_gen())
    plain = pipe("a ball", num_frames=24, generator=_gen())
    assert right.frames.shape[0] == 24  # the plan's duration is the default duration
    assert right.settings["motion_plan"] and right.settings["windows"] == 5
    assert not np.array_equal(right.frames, left.frames)
    assert not np.array_equal(right.frames, plain.frames)
    # plans equal over the first window: the first window is the same, later windows differ
    bent = _plan(24, vx=0.03)
    for f in bent.objects[0].frames[12:]:
        f.y = 0.8
    other = pipe("a ball", motion_plan=bent, generator=_gen())
    assert np.array_equal(other.frames[:9], right.frames[:9])
    assert not np.array_equal(other.frames[13:], right.frames[13:])
    # extending: the plan's frame 0 is the first new frame
    ext = pipe("a ball", motion_plan=_plan(8), extend_video=right.frames[:9], generator=_gen())
    assert ext.frames.shape[0] == 17 and ext.settings["source_frames"] == 9


def test_text_only_model_refuses_a_plan() -> None:
    pipe = _pipeline(layout_dim=0)
    assert not pipe.follows_plans
    with pytest.raises(AvgenError, match="does not follow motion plans"):
        pipe("a ball", motion_plan=_plan(), num_frames=8)


def test_a_plan_dit_renders_plans_and_the_text_dit_the_rest(tmp_path: Path) -> None:
    """A folder with two DiTs (pipeline.json ``plan_dit``, as models/video ships): a planned
    window runs the plan DiT, text only runs the text DiT, exactly as the text-only model."""
    text_only = _pipeline(layout_dim=0)
    planned = _pipeline()
    both = TextToVideoPipeline(text_only.vae, text_only.dit, text_encoder=FakeEncoder(),
                               config=text_only.config, plan_dit=planned.dit)  # fmt: skip
    assert both.follows_plans
    plain = both("a ball", num_frames=12, generator=_gen())
    assert np.array_equal(plain.frames, text_only("a ball", num_frames=12, generator=_gen()).frames)
    ours = both("a ball", motion_plan=_plan(12), generator=_gen())
    theirs = TextToVideoPipeline(text_only.vae, planned.dit, text_encoder=FakeEncoder(),
                                 config=text_only.config)("a ball", motion_plan=_plan(12),
                                                          generator=_gen())  # fmt: skip
    assert np.array_equal(ours.frames, theirs.frames)
    both.save_pretrained(tmp_path / "two")
    cfg = json.loads((tmp_path / "two" / "pipeline.json").read_text())
    assert cfg["plan_dit"] == "dit_plans" and (tmp_path / "two" / "dit_plans").is_dir()
    again = TextToVideoPipeline.from_pretrained(tmp_path / "two", text_encoder=FakeEncoder())
    assert again.plan_dit is not None and again.follows_plans
    redo = again("a ball", motion_plan=_plan(12), generator=_gen())
    assert np.array_equal(redo.frames, ours.frames)
    # a plan DiT without a layout input is refused in one sentence
    text_only.dit.save_pretrained(tmp_path / "two" / "dit_plans")
    with pytest.raises(AvgenError, match="has no layout input"):
        TextToVideoPipeline.from_pretrained(tmp_path / "two", text_encoder=FakeEncoder())


def _folder(tmp_path: Path, monkeypatch, name: str, layout_dim: int) -> Path:
    from avgen import api

    folder = tmp_path / name
    _pipeline(layout_dim).save_pretrained(folder)
    pipe = TextToVideoPipeline.from_pretrained(folder, text_encoder=FakeEncoder())
    assert pipe.follows_plans == bool(layout_dim)
    monkeypatch.setitem(api._PIPELINES, ("video", str(folder.resolve()), "cpu"), pipe)
    return folder


@pytest.fixture()
def tiny_folder(tmp_path: Path, monkeypatch) -> Path:
    return _folder(tmp_path, monkeypatch, "tiny", FEATURES)


def _read(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".json").read_text())


def test_api_plans_records_and_reruns(tiny_folder: Path, tmp_path: Path, monkeypatch) -> None:
    from avgen import api

    out = tmp_path / "out" / "ball.mp4"
    kw = dict(model=str(tiny_folder), upscale=0, quiet=True)
    paths = api.text_to_video("a red ball falling for 2 seconds", out, seed=4, batch=2, **kw)
    record = _read(paths[1])
    assert record["plan_source"] == "planner" and record["seed"] == 5
    plan = MotionPlan.from_dict(record["settings"]["plan"])
    assert plan.num_frames == 16 and plan.meta["seed"] == 4  # planned once, from the base seed
    assert _read(paths[0])["settings"]["plan"] == record["settings"]["plan"]  # one plan per batch
    again = api.rerun(paths[1].with_name(paths[1].name + ".json"), tmp_path / "again.mp4")
    assert paths[1].read_bytes() == again[0].read_bytes()  # byte for byte
    # nothing to move: text only, and the sidecar says why
    city = api.text_to_video("a city at night with neon lights", tmp_path / "c.mp4",
                             num_frames=8, **kw)  # fmt: skip
    assert _read(city[0])["settings"]["plan"] is None
    assert _read(city[0])["plan_note"] == "the prompt names nothing to move"
    off = api.text_to_video("a red ball falling", tmp_path / "off.mp4", plan=False,
                            num_frames=8, **kw)  # fmt: skip
    assert _read(off[0])["settings"]["plan"] is False and _read(off[0])["plan_source"] == "off"
    # a model without a layout input runs text-only by default and refuses a given plan
    old = _folder(tmp_path, monkeypatch, "old", 0)
    plain = api.text_to_video("a red ball falling", tmp_path / "p.mp4", model=str(old),
                              num_frames=8, upscale=0, quiet=True)  # fmt: skip
    assert _read(plain[0])["plan_note"] == "the model does not follow motion plans"
    with pytest.raises(AvgenError, match="does not follow motion plans"):
        api.text_to_video("a red ball", tmp_path / "q.mp4", model=str(old),
                          plan=_plan(8).to_dict(), quiet=True)  # fmt: skip
    assert not (tmp_path / "q.mp4").exists()


def _cli(argv: list[str]) -> int:
    from avgen import cli

    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    return int(exc.value.code)


def test_cli_plan_preview_and_errors(tiny_folder: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    from avgen.plan.schema import write_json

    plan_file = tmp_path / "plan.json"
    write_json(_plan(16).to_dict(), plan_file)
    base = ["video", "a red ball", "--model", str(tiny_folder), "--quiet", "--upscale", "0"]
    out = tmp_path / "p.mp4"
    assert _cli([*base, "--plan", str(plan_file), "-o", str(out), "--preview"]) == 0
    record = _read(out)
    assert record["settings"]["plan"] == _plan(16).to_dict()
    assert record["plan_source"] == "given" and record["settings"]["num_frames"] == 16
    sheet = out.with_name("p.mp4.png")
    plain = tmp_path / "n.mp4"
    assert _cli([*base, "--no-plan", "--num-frames", "16", "-o", str(plain), "--preview"]) == 0
    drawn = np.asarray(Image.open(sheet))
    bare = np.asarray(Image.open(plain.with_name("n.mp4.png")))
    assert drawn.shape == bare.shape and (drawn == 255).all(-1).sum() > (bare == 255).all(-1).sum()

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red ball\na blue ball\n")
    bad = tmp_path / "bad.json"
    write_json({**_plan(16).to_dict(), "fps": 0}, bad)
    cases = [
        (["--plan", str(plan_file), "--no-plan"], "exclude each other"),
        (["--plan", str(plan_file), "--duration", "3"], "the plan lasts 2 s"),
        (["--plan", str(plan_file), "--num-frames", "9"], "the plan lasts 2 s"),
        (["--plan", str(bad)], "plan.fps"),
        (["--plan", str(tmp_path / "missing.json")], "cannot read plan file"),
    ]
    for flags, words in cases:
        target = tmp_path / "never.mp4"
        assert _cli([*base, *flags, "-o", str(target)]) == 2, flags
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, (flags, err)
        assert not target.exists()
    code = _cli(["video", "--prompts-file", str(prompts), "--plan", str(plan_file),
                 "--model", str(tiny_folder), "-o", str(tmp_path / "pf.mp4")])  # fmt: skip
    assert code == 2 and "--prompts-file" in capsys.readouterr().err


def test_init_image_takes_the_plan_from_frame_0(tiny_folder: Path, tmp_path: Path) -> None:
    from PIL import Image

    from avgen import api

    image = tmp_path / "first.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(image)
    kw = dict(model=str(tiny_folder), upscale=0, quiet=True, init_image=str(image))
    a = api.text_to_video("a red ball", tmp_path / "a.mp4", plan=_plan(16).to_dict(), **kw)
    b = api.text_to_video("a red ball", tmp_path / "b.mp4", plan=_plan(16, vx=-0.03).to_dict(),
                          **kw)  # fmt: skip
    assert _read(a[0])["settings"]["num_frames"] == 16
    assert a[0].read_bytes() != b[0].read_bytes()
