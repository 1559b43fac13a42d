"""Write an AV clip: picture and soundtrack muxed into one MP4 (H.264 + AAC, ``media.write_mp4``)
with its previews (a GIF and a contact sheet with the events marked under the frames they fall
in) and its sidecar, each published atomically in that order (temporary name, then rename)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avgen.files import write_text
from avgen.media import upscale_frames, write_contact_sheet, write_gif, write_mp4
from avgen.sidecar import sidecar_path


def av_files(output: Path, preview: bool) -> list[Path]:
    """Every file ``avgen av`` writes for ``output``: the MP4, its previews, its sidecar."""
    files = [output]
    if preview:
        files += [output.with_name(output.name + ext) for ext in (".gif", ".png")]
    return files + [sidecar_path(output)]


def write_av(
    output: Path,
    frames: np.ndarray,
    fps: int,
    audio: np.ndarray,
    sr: int,
    sidecar: str,
    *,
    upscale: int = 0,
    preview: bool = False,
    overwrite: bool = False,
    event_times: list[float] | None = None,
    tracks: np.ndarray | None = None,
) -> Path:
    """The MP4 (frames scaled to a short side of ``upscale`` pixels, 0 = native), the previews
    when asked (the contact sheet marks the tiles of ``event_times``, seconds, and draws the
    plan's ``tracks``), then the sidecar text ``sidecar``."""
    shown = upscale_frames(frames, upscale) if upscale else frames
    write_mp4(output, shown, fps, audio=audio, sr=sr, overwrite=overwrite)
    if preview:
        write_gif(output.with_name(output.name + ".gif"), shown, fps, overwrite=overwrite)
        sheet = output.with_name(output.name + ".png")
        marks = [int(t * fps) for t in (event_times or [])]
        write_contact_sheet(sheet, shown, max_frames=16, overwrite=overwrite, tracks=tracks,
                            marks=marks)  # fmt: skip
    write_text(sidecar_path(output), sidecar, overwrite=overwrite)
    return output
