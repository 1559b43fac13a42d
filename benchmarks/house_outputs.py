"""Seeded outputs of every generating path, hashed: proof that a refactor changed no behaviour.

Runs each path through ``avgen.api`` (the entry point the CLI calls) on one thread with a fixed
seed and records, per output, the SHA-256 of the written file and of the decoded samples, and a
few summary numbers (for a tolerance comparison when a hash differs). Paths: text to audio
(Griffin-Lim and neural vocoder, two windows), audio-to-audio, inpainting, super-resolution,
the raga LoRA adapter, an exported diffusers folder, text to video (text, init image, extend),
and a tiny random-weight pipeline of each diffusers family (AudioLDM, AudioLDM 2, Stable Audio
Open, Wan, LTX-Video, CogVideoX).

    python benchmarks/house_outputs.py OUT.json            # record
    python benchmarks/house_outputs.py OUT.json --compare BEFORE.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(tempfile.gettempdir()) / "avgen_house_fixtures"
sys.path.insert(0, str(ROOT / "tests" / "pipelines"))


# libx264 output is not bit-reproducible run to run (the same frames encode to different bytes
# now and then, even on one thread), so for MP4s the frames handed to the encoder are hashed.
_ENCODED: dict[str, np.ndarray] = {}


def _capture_mp4_frames() -> None:
    """Wrap ``avgen.media.write_mp4`` (and every module's imported copy) to keep its frames."""
    import avgen.media

    original = avgen.media.write_mp4

    def write_mp4(path: Any, frames: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        _ENCODED[str(Path(path).resolve())] = np.array(frames, copy=True)
        return original(path, frames, *args, **kwargs)

    for module in list(sys.modules.values()):
        if module is not None and getattr(module, "write_mp4", None) is original:
            module.write_mp4 = write_mp4


def _digest(path: Path) -> dict[str, Any]:
    from avgen.media import read_audio

    record: dict[str, Any] = {"file_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    if path.suffix == ".mp4":
        frames = _ENCODED[str(path.resolve())]
        data = np.ascontiguousarray(frames)
        record["shape"] = list(data.shape)
        record["mean"] = float(data.astype(np.float64).mean())
    else:
        wave, sr = read_audio(path)
        data = np.ascontiguousarray(wave.astype(np.float32))
        record["shape"] = list(data.shape)
        record["rms"] = float(np.sqrt(np.mean(data.astype(np.float64) ** 2)))
    record["data_sha256"] = hashlib.sha256(data.tobytes()).hexdigest()
    return record


def record_all(work: Path) -> dict[str, dict[str, Any]]:
    from avgen import api
    from avgen.export import export_audio
    from avgen.media import write_audio

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    import avgen.api  # noqa: F401  (and what it imports, before the frames are captured)
    import avgen.pipelines.text_to_video  # noqa: F401

    _capture_mp4_frames()
    fast = dict(num_inference_steps=4, quiet=True)
    adapters = Path(api.__file__).parent / "models" / "adapters" / "ragas"
    out: dict[str, dict[str, Any]] = {}

    def run(name: str, fn: Any, prompt: str, suffix: str, **kw: Any) -> Path:
        path = work / f"{name}{suffix}"
        fn(prompt, path, **kw)
        out[name] = _digest(path)
        print(name, out[name]["data_sha256"][:16], flush=True)
        return path

    a = api.text_to_audio
    base = run("audio", a, "upbeat jazz saxophone solo with reverb at 120 BPM", ".wav",
               audio_length_in_s=5.0, seed=3, **fast)  # fmt: skip
    run("audio_neural_cfg", a, "soft rain", ".wav", audio_length_in_s=2.0, seed=1,
        vocoder="neural", guidance_scale=5.0, negative_prompt="loud", **fast)  # fmt: skip
    run("audio_candidates", a, "a music box melody", ".wav", audio_length_in_s=2.0,
        candidates=2, **fast)  # fmt: skip
    run("a2a", a, "slow cello melody", ".wav", init_audio=str(base), strength=0.5, **fast)
    run("inpaint", a, "gentle rain", ".wav", init_audio=str(base), inpaint=(1.5, 2.5), **fast)
    low = work / "lowpassed.wav"
    from scipy.signal import butter, sosfilt

    wave = np.asarray(_read(base), dtype=np.float32)
    lowpass = butter(8, 2000, fs=16000, output="sos")
    write_audio(low, sosfilt(lowpass, wave).astype(np.float32), 16000)
    run("super_resolution", a, "a music box melody", ".wav", init_audio=str(low),
        super_resolution=2000.0, **fast)  # fmt: skip
    run("lora_ragas", a, "a sitar playing raga Yaman over a drone", ".wav",
        audio_length_in_s=2.0, lora=str(adapters), **fast)  # fmt: skip
    exported = export_audio(work / "exported")
    run("exported_folder", a, "a soft piano melody", ".wav", audio_length_in_s=2.0,
        model=str(exported), **fast)  # fmt: skip

    v = api.text_to_video
    clip = run("video", v, "a red ball bouncing on a grass field in slow motion", ".mp4",
               duration_s=2.0, seed=2, upscale=64, **fast)  # fmt: skip
    run("video_long", v, "a blue square moving right on a dark background", ".mp4",
        duration_s=5.0, upscale=0, **fast)  # fmt: skip
    from PIL import Image

    img = work / "first.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(img)
    run("video_init_image", v, "a yellow ball falling", ".mp4", duration_s=1.0, upscale=0,
        init_image=str(img), **fast)  # fmt: skip
    source = FIXTURES / "extend_source.mp4"  # kept between runs: MP4 bytes vary per encode
    if not source.is_file():
        FIXTURES.mkdir(parents=True, exist_ok=True)
        source.write_bytes(clip.read_bytes())
    run("video_extend", v, "a red ball bouncing", ".mp4", duration_s=1.0, upscale=0,
        extend=str(source), **fast)  # fmt: skip

    import tiny_diffusers as tiny

    for name, build in tiny.AUDIO_BUILDERS.items():
        folder = build(work / name)
        run(f"diffusers_{name}", a, "soft rain on a roof", ".wav", audio_length_in_s=1.0,
            model=str(folder), num_inference_steps=2, quiet=True)  # fmt: skip
    for name, build in tiny.VIDEO_BUILDERS.items():
        folder = build(work / name)
        image = {"init_image": str(img)} if "ImageToVideo" in name else {}
        run(f"diffusers_{name}", v, "a red ball bouncing", ".mp4", num_frames=9, width=32,
            height=32, upscale=0, model=str(folder), num_inference_steps=2, quiet=True,
            **image)  # fmt: skip
    out.update(record_worlds(work))
    return out


PROMPTS = (
    "Ethereal ambient synth with rising arpeggios and soft reverb, 30 seconds at 120 BPM",
    "Aerial drone shot of Tokyo at dusk, bustling streets with neon lights flickering, "
    "cinematic 4K",
    "Snowy mountain peak, avalanche cascading down in slow motion, dramatic wide-angle shot",
    "two yellow balls and a large blue square bouncing on a beach at sunset, panning left",
    "a sitar playing raga Yaman over a drone, slow alap, for 10 seconds",
    "thunderstorm with distant echoes",
    "a red ball",
)


def _json_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def record_worlds(work: Path) -> dict[str, dict[str, Any]]:
    """World clips (samples, captions, truth), the checkers on them, the prompt tools."""
    from avgen import api
    from avgen.worlds.audio_checks import check_audio
    from avgen.worlds.av import render_av_clip
    from avgen.worlds.av_checks import check_av_sync
    from avgen.worlds.motion import render_motion_clip
    from avgen.worlds.sound import render_sound_clip
    from avgen.worlds.video_checks import check_video

    out: dict[str, dict[str, Any]] = {}
    for seed in range(6):
        for kind, render in (("sound", render_sound_clip), ("motion", render_motion_clip),
                             ("av", render_av_clip)):  # fmt: skip
            clip = render(seed)
            arrays = [np.ascontiguousarray(getattr(clip, k)) for k in ("audio", "frames")
                      if getattr(clip, k, None) is not None]  # fmt: skip
            data = hashlib.sha256(b"".join(a.tobytes() for a in arrays)).hexdigest()
            meta = _json_hash([clip.captions, clip.truth, clip.expected])
            if kind == "sound":
                report = check_audio(clip.audio, clip.sr, clip.expected)
            elif kind == "motion":
                report = check_video(clip.frames, clip.fps, clip.expected)
            else:
                report = check_av_sync(clip.frames, clip.fps, clip.audio, clip.sr, clip.expected)
            out[f"world_{kind}_{seed}"] = {
                "file_sha256": meta, "data_sha256": data + _json_hash(report),
                "shape": [len(a) for a in arrays], "rms": 0.0,
            }  # fmt: skip
    for i, text in enumerate(PROMPTS):
        parsed = api.parse_prompt(text)
        lint = api.lint_prompt(text).to_dict()
        digest = _json_hash([parsed, lint])
        out[f"prompt_{i}"] = {"file_sha256": digest, "data_sha256": digest, "rms": 0.0}
    return out


def _read(path: Path) -> np.ndarray:
    from avgen.media import read_audio

    return read_audio(path)[0]


def compare(now: dict[str, Any], before: dict[str, Any]) -> list[str]:
    rows = ["| path | file bytes | samples | note |", "|---|---|---|---|"]
    for name in sorted(set(now) | set(before)):
        a, b = now.get(name), before.get(name)
        if a is None or b is None:
            rows.append(f"| {name} | - | - | {'missing now' if a is None else 'new'} |")
            continue
        same_file = a["file_sha256"] == b["file_sha256"]
        same_data = a["data_sha256"] == b["data_sha256"]
        note = ""
        if not same_data:
            key = "rms" if "rms" in a else "mean"
            note = f"{key} {b[key]:.6g} -> {a[key]:.6g}"
        rows.append(
            f"| {name} | {'same' if same_file else 'differs'} | "
            f"{'same' if same_data else 'differs'} | {note} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--compare", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = record_all(Path(tmp))
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    if args.compare is not None:
        print("\n".join(compare(result, json.loads(args.compare.read_text()))))


if __name__ == "__main__":
    main()
