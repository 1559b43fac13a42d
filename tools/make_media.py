"""Every picture, sound and film the README shows, made from the shipped models: one script.

- ``av``: one AV clip (``avgen.api.generate_av``: picture, impacts on the plan's contact events,
  bed under them) as ``docs/media/av_ball.mp4`` with its contact sheet (``av_ball.png``), GIF
  (``av_ball.gif``) and the soundtrack's spectrogram (``av_ball_spectrogram.png``);
- ``story``: one three-shot story (``avgen.api.generate_story``) as ``docs/media/story.mp4``
  with a contact sheet, a GIF and the soundtrack's spectrogram read back from the MP4;
- ``video``: one video prompt with the shipped video model twice, with its motion plan
  (``--preview``: the contact sheet draws the plan's trajectories) and text only
  (``--no-plan``): ``video_planned.png``, ``video_text_only.png``, ``video_planned.gif``;
- ``audio``: a short MIDI tune (a folk-song opening and its answer, 6 s at 100 BPM) as
  ``docs/media/tune.mid``, rendered with the shipped audio model through the CLI's own path
  (``avgen.api.text_to_audio(..., melody=...)``) for two instrument prompts: their spectrogram
  previews (planned notes outlined) as ``melody_<name>.png``.

The page screenshot ``serve.png`` comes from the browser test (tests/serve), not from here.

    python tools/make_media.py [--only av|story|video|audio ...]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import pretty_midi

from avgen import api
from avgen.media import read_mp4, write_contact_sheet, write_gif, write_spectrogram_png

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


VIDEO_PROMPT = "a red ball bouncing on a grass field"
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


AV_PROMPT = "a red ball bouncing on a grass field, with a thud at every bounce, over soft rain"
AV_SEED = 1
STORY = [
    ("a small red ball bouncing on a grass field, with a gentle piano melody", 3.0),
    ("it rolls to the right", 2.5),
    ("it falls down", 2.5),
]
STORY_SEED = 2


def read_back(mp4: Path, name: str, sheet: bool = True) -> None:
    """Contact sheet (16 frames), GIF and spectrogram of an MP4 as decoded by a player."""
    frames, fps, audio, sr = read_mp4(mp4)
    if sheet:
        write_contact_sheet(MEDIA / f"{name}.png", frames, max_frames=16)
        write_gif(MEDIA / f"{name}.gif", frames[:, ::2, ::2], fps)  # half size: small files
    if audio is not None:
        write_spectrogram_png(MEDIA / f"{name}_spectrogram.png", audio, sr)


def av_media() -> None:
    out = MEDIA / "av_ball.mp4"
    api.generate_av(AV_PROMPT, out, seed=AV_SEED, duration_s=4.0, preview=True, quiet=True,
                    overwrite=True)  # fmt: skip
    for ext in (".gif", ".png"):  # the av previews: events marked under their frames
        shutil.move(out.with_name(out.name + ext), MEDIA / f"av_ball{ext}")
    out.with_name(out.name + ".json").unlink()
    read_back(out, "av_ball", sheet=False)
    print(out)


def story_media() -> None:
    out = MEDIA / "story.mp4"
    api.generate_story([p for p, _ in STORY], out, durations=[d for _, d in STORY],
                       seed=STORY_SEED, quiet=True, overwrite=True)  # fmt: skip
    out.with_name(out.name + ".json").unlink()
    read_back(out, "story")
    print(out)


MAKERS = {"av": av_media, "story": story_media, "video": video_media, "audio": audio_media}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=tuple(MAKERS), default=None)
    args = p.parse_args()
    MEDIA.mkdir(parents=True, exist_ok=True)
    for name, make in MAKERS.items():
        if args.only is None or name in args.only:
            make()
    total = sum(f.stat().st_size for f in MEDIA.iterdir() if f.is_file())
    print(f"docs/media: {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
