"""``check_file``: run the worlds' analytic checkers on a media file against its prompt.

The prompt is parsed (avgen.prompts) into the attributes it asks for; an audio file goes to
the audio checker, an MP4 to the video checker and, when it has a soundtrack, to the audio
checker and the audio-visual sync checker as well.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from avgen.errors import AvgenError
from avgen.media import read_audio, read_mp4
from avgen.prompts import parse_prompt
from avgen.worlds.audio_checks import check_audio
from avgen.worlds.av_checks import check_av_sync
from avgen.worlds.video_checks import check_video

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
VIDEO_EXTENSIONS = (".mp4",)


def _plain(value: Any) -> Any:
    """The value with numpy scalars and arrays turned into JSON types (NaN and inf to None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def check_file(path: str | Path, prompt: str) -> dict:
    """Check a wav / flac / ogg / mp3 / mp4 file against ``prompt``; a JSON-ready dict.

    Returns {"file", "prompt", "parsed", "audio", "video", "av"}: each checker's
    attribute -> {"expected", "measured", "match", "measurable"} ({} where it does not apply).
    """
    path = Path(path)
    if not path.is_file():
        raise AvgenError(f"file {path} does not exist.")
    ext = path.suffix.lower()
    if ext not in AUDIO_EXTENSIONS + VIDEO_EXTENSIONS:
        raise AvgenError(
            f"cannot check {path.name}: extension {ext or '(none)'} is not one of "
            f"{', '.join(AUDIO_EXTENSIONS + VIDEO_EXTENSIONS)}."
        )
    parsed = parse_prompt(prompt).to_dict()
    result: dict[str, Any] = {
        "file": str(path),
        "prompt": prompt,
        "parsed": parsed,
        "audio": {},
        "video": {},
        "av": {},
    }
    if ext in AUDIO_EXTENSIONS:
        audio, sr = read_audio(path)
        result["audio"] = check_audio(audio, sr, parsed)
    else:
        frames, fps, audio, sr = read_mp4(path)
        result["video"] = check_video(frames, fps, parsed)
        if audio is not None and len(audio) > 0:
            result["audio"] = check_audio(audio, sr, parsed)
            result["av"] = check_av_sync(frames, fps, audio, sr, parsed)
    return _plain(result)
