"""The README's plan pictures: a MIDI melody on two instruments, and a planned video clip.

Writes a short MIDI tune (a folk-song opening and its answer, 6 s at 100 BPM) to
``docs/media/tune.mid``, renders it with the shipped audio model through the CLI's own path
(``avgen.api.text_to_audio(..., melody=...)``) for two instrument prompts, and keeps their
spectrogram previews (planned notes outlined) as ``docs/media/melody_<name>.png``. Then
generates one video prompt with the shipped video model twice, with its motion plan
(``avgen video PROMPT --preview``: the contact sheet draws the plan's trajectories) and text
only (``--no-plan``), and keeps the contact sheets as ``docs/media/video_planned.png`` and
``docs/media/video_text_only.png`` and the planned GIF as ``docs/media/video_planned.gif``.

    python tools/plan_media.py [--only audio|video]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import pretty_midi

from avgen import api

MEDIA = Path(__file__).resolve().parents[1] / "docs" / "media"
PROMPTS = {
    "cello": "a solo cello with soft reverb",
    "flute": "a bright flute, light and airy",
}
# (beat, length in beats, MIDI pitch): a folk-song opening in G and its answer
TUNE = [
    (0, 1, 67), (1, 1, 67), (2, 1, 69), (3, 1, 71), (4, 1, 67), (5, 1, 71), (6, 2, 69),
    (8, 1, 67), (9, 1, 69), (8.5, 0.5, 71), (10, 2, 72),
]  # fmt: skip


def write_tune(path: Path, bpm: float = 100.0) -> Path:
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    inst = pretty_midi.Instrument(program=0, name="melody")
    beat = 60.0 / bpm
    for start, length, pitch in sorted(TUNE):
        t = 0.1 + start * beat
        inst.notes.append(pretty_midi.Note(90, pitch, t, t + 0.92 * length * beat))
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


VIDEO_PROMPT = "a red ball bouncing and a blue box sliding to the right on a grass field"
VIDEO_SEED = 3


def video_media() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, plan in (("planned", None), ("text_only", False)):
            mp4 = Path(tmp) / f"{name}.mp4"
            api.text_to_video(VIDEO_PROMPT, mp4, plan=plan, preview=True, seed=VIDEO_SEED,
                              duration_s=4.0, quiet=True)  # fmt: skip
            shutil.copyfile(mp4.with_name(mp4.name + ".png"), MEDIA / f"video_{name}.png")
            print(MEDIA / f"video_{name}.png")
            if name == "planned":
                shutil.copyfile(mp4.with_name(mp4.name + ".gif"), MEDIA / "video_planned.gif")


def audio_media() -> None:
    tune = write_tune(MEDIA / "tune.mid")
    with tempfile.TemporaryDirectory() as tmp:
        for name, prompt in PROMPTS.items():
            wav = Path(tmp) / f"{name}.wav"
            api.text_to_audio(prompt, wav, melody=tune, preview=True, seed=0, quiet=True)
            shutil.copyfile(wav.with_name(wav.name + ".png"), MEDIA / f"melody_{name}.png")
            print(MEDIA / f"melody_{name}.png")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=("audio", "video"), default=None)
    args = p.parse_args()
    MEDIA.mkdir(parents=True, exist_ok=True)
    if args.only != "video":
        audio_media()
    if args.only != "audio":
        video_media()


if __name__ == "__main__":
    main()
