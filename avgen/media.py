"""Media I/O: audio files, H.264/AAC MP4, GIF, contact sheets and log-mel spectrogram plots.

Every writer goes through `atomic_output`: the file is written under a temporary name in the
same folder and renamed at the end, so a crash never leaves a half-written file behind.
Audio files go through libsndfile (soundfile); MP4 muxing and decoding go through PyAV
(FFmpeg); images go through Pillow. No matplotlib and no ffmpeg binary are needed.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf
from PIL import Image
from scipy.signal import resample_poly

from avgen.errors import AvgenError
from avgen.files import atomic_path, check_new

_AUDIO_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}
_AUDIO_SUBTYPES = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}
_VIDEO_EXTENSIONS = (".mp4",)
#: x264's settings that make its bytes a function of the frames alone: one encoder thread (x264
#: splits frames into as many slices as it has threads, so the bytes would follow the machine's
#: CPU count), and no lookahead (rc-lookahead 0, so no macroblock tree) with a fixed B-frame
#: pattern (b-adapt 0): with its lookahead, x264 gave different bytes for the same frames now
#: and then when other work ran in the process (8 runs in 16), which broke byte-exact reruns.
#: The cost is larger files (about 1.5x at crf 18 on avgen's clips).
X264_PARAMS = "threads=1:lookahead-threads=1:b-adapt=0:rc-lookahead=0:no-mbtree=1"
# Anchor colours of a magma-like ramp (black, purple, magenta, orange, pale yellow).
_RAMP = np.array(
    [[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]],
    dtype=np.float64,
)


# ------------------------------------------------------------------ safe writing


def check_writable(path: str | Path) -> None:
    """Raise AvgenError unless a file can be created at `path` (call before expensive work)."""
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise AvgenError(f"Output path '{path}' is a folder; give a file name inside it.")
    if not parent.exists():
        raise AvgenError(f"Output folder '{parent}' does not exist; create it or pick another.")
    if not parent.is_dir():
        raise AvgenError(f"Output folder '{parent}' is not a folder, so '{path}' cannot be made.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AvgenError(f"Output folder '{parent}' is not writable; pick a writable folder.")


@contextlib.contextmanager
def atomic_output(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`, unique to this writer; publish it on success,
    delete it on error (`avgen.files.atomic_path`).

    The temporary name keeps the real extension last (`.out.tmp-123-1a2b3c4d5e6f.wav`), so
    libraries that choose a format from the extension still work. Without `overwrite` an
    existing `path`, or one that appears while writing, is an OutputExistsError.
    """
    path = Path(path)
    check_writable(path)
    if not overwrite:
        check_new([path], overwrite=False)
    with atomic_path(path, overwrite=overwrite) as tmp:
        yield tmp


# ------------------------------------------------------------------ audio


def _check_sr(sr: int, name: str = "sr") -> int:
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or not 1 <= sr <= 768_000:
        raise AvgenError(f"{name} must be an integer from 1 to 768000 Hz, got {sr!r}.")
    return int(sr)


def _as_audio(audio: np.ndarray) -> np.ndarray:
    """Return float32 audio as (C, T), checking shape and values."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[None]  # (1, T)
    if audio.ndim != 2 or not 1 <= audio.shape[0] <= 8:
        raise AvgenError(f"audio must be (T,) or (C, T) with 1 to 8 channels, got {audio.shape}.")
    if audio.shape[1] == 0:
        raise AvgenError("audio is empty (0 samples); at least one sample is needed.")
    if not np.issubdtype(audio.dtype, np.number) or not np.all(np.isfinite(audio)):
        raise AvgenError("audio contains NaN, infinite or non-numeric values; expected floats.")
    return audio.astype(np.float32, copy=False)


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample along the last axis with scipy's polyphase filter at the reduced ratio."""
    sr_in, sr_out = _check_sr(sr_in, "sr_in"), _check_sr(sr_out, "sr_out")
    audio = np.asarray(audio, dtype=np.float32)
    if sr_in == sr_out:
        return audio.copy()
    g = math.gcd(sr_in, sr_out)
    return resample_poly(audio, sr_out // g, sr_in // g, axis=-1).astype(np.float32)


def supported_audio_extensions() -> list[str]:
    """The audio extensions this machine's libsndfile can write (.mp3 only where supported)."""
    available = sf.available_formats()
    return [ext for ext, fmt in _AUDIO_FORMATS.items() if fmt in available]


def write_audio(
    path: str | Path,
    audio: np.ndarray,
    sr: int,
    *,
    sample_rate: int | None = None,
    overwrite: bool = True,
) -> Path:
    """Write (T,) or (C, T) float audio in [-1, 1]; format from the extension.

    `sample_rate`, when given, resamples from `sr` before writing. Values outside [-1, 1]
    are clipped. Without `overwrite` an existing `path` is refused (OutputExistsError).
    """
    path = Path(path)
    ext = path.suffix.lower()
    supported = supported_audio_extensions()
    if ext not in supported:
        raise AvgenError(f"Unsupported audio extension '{ext}'; use one of {', '.join(supported)}.")
    check_writable(path)
    sr = _check_sr(sr)
    data = _as_audio(audio)  # (C, T)
    if sample_rate is not None:
        data = resample(data, sr, _check_sr(sample_rate, "sample_rate"))
        sr = int(sample_rate)
    data = np.clip(data, -1.0, 1.0).T  # (T, C) as soundfile wants
    fmt = _AUDIO_FORMATS[ext]
    with atomic_output(path, overwrite=overwrite) as tmp:
        try:
            sf.write(tmp, data, sr, format=fmt, subtype=_AUDIO_SUBTYPES[fmt])
        except (sf.LibsndfileError, RuntimeError, ValueError) as e:
            raise AvgenError(f"Could not write {fmt} audio at {sr} Hz to '{path}': {e}.") from e
    return path


def _open_input(path: Path, what: str) -> av.container.InputContainer:
    """Open a media file with PyAV, turning FFmpeg failures into one-sentence AvgenErrors."""
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise AvgenError(f"Could not read '{path}' as {what}: {e}.") from e
    if container.format.name == "tty":  # FFmpeg renders any .txt file as a picture of text
        container.close()
        raise AvgenError(f"Could not read '{path}' as {what}: it is a text file.")
    return container


def _decode_audio_av(container: av.container.InputContainer) -> tuple[np.ndarray, int] | None:
    """Decode the first audio stream of an open container to float32 (C, T), or None."""
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="fltp")
    chunks = []
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray())  # (C, n)
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray())
    if not chunks:
        return None
    audio = np.concatenate(chunks, axis=1).astype(np.float32)  # (C, T)
    if stream.duration is not None and stream.time_base is not None:
        # Decoders return the last AAC frame whole; the container says where audio ends.
        audio = audio[:, : max(1, round(float(stream.duration * stream.time_base) * stream.rate))]
    return audio, int(stream.rate)


def read_audio(
    path: str | Path, *, sr: int | None = None, mono: bool = True
) -> tuple[np.ndarray, int]:
    """Read audio as float32 (T,) when `mono` else (C, T); resample to `sr` if given.

    libsndfile formats are read directly; anything else (MP4, M4A, ...) is decoded with PyAV.
    """
    path = Path(path)
    if not path.is_file():
        raise AvgenError(f"Audio file '{path}' does not exist.")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)  # (T, C)
        decoded: tuple[np.ndarray, int] | None = (data.T, rate)  # (C, T)
    except (sf.LibsndfileError, RuntimeError):
        decoded = None  # not a libsndfile format: let FFmpeg try
    if decoded is None:
        try:
            with _open_input(path, "audio") as container:
                decoded = _decode_audio_av(container)
        except av.FFmpegError as e:
            raise AvgenError(f"Could not decode audio from '{path}': {e}.") from e
    if decoded is None:
        raise AvgenError(f"File '{path}' has no audio stream to read.")
    data, rate = decoded
    if data.shape[1] == 0:
        raise AvgenError(f"Audio file '{path}' holds no samples.")
    if mono:
        data = data.mean(axis=0, dtype=np.float32)  # (T,)
    if sr is not None and sr != rate:
        data, rate = resample(data, rate, sr), sr
    return np.ascontiguousarray(data, dtype=np.float32), int(rate)


# ------------------------------------------------------------------ video


def _as_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise AvgenError(f"frames must be uint8 (F, H, W, 3), got {frames.dtype} {frames.shape}.")
    if 0 in frames.shape:
        raise AvgenError(f"frames must hold at least one 1x1 frame, got {frames.shape}.")
    return frames


def _check_fps(fps: float) -> float:
    if not isinstance(fps, int | float | np.number) or not 0.1 <= fps <= 240:
        raise AvgenError(f"fps must be a number from 0.1 to 240, got {fps!r}.")
    return float(fps)


def _even(frames: np.ndarray) -> np.ndarray:
    """Pad odd heights/widths by repeating the last row/column (yuv420p needs even sizes)."""
    _, h, w, _ = frames.shape
    ph, pw = max(h % 2, 2 - h), max(w % 2, 2 - w)
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    return frames


def write_mp4(
    path: str | Path,
    frames: np.ndarray,
    fps: float,
    audio: np.ndarray | None = None,
    sr: int = 16000,
    *,
    overwrite: bool = True,
) -> Path:
    """Write H.264 (libx264, yuv420p, crf 18, faststart; ``X264_PARAMS``, so the bytes depend on
    the frames alone) video with optional AAC audio.

    Odd frame sizes are padded to even by repeating the last row/column. Audio (T,) or (C, T)
    is trimmed or padded with silence to exactly F / fps seconds so both streams end together.
    The same bytes as ``mp4_stream`` fed the frames in any number of blocks.
    """
    frames = _as_frames(frames)
    with mp4_stream(
        path, fps, audio=audio, sr=sr, num_frames=len(frames), overwrite=overwrite
    ) as write:
        write(frames)
    return Path(path)


class _Mp4Encoder:
    """The encoder behind ``mp4_stream``: the streams are added at the first block of frames
    (its size sets the video's), the whole soundtrack is muxed then, and every block's frames
    are encoded and muxed as they come."""

    def __init__(self, container: Any, rate: Fraction, wave: np.ndarray | None, sr: int) -> None:
        self.container, self.rate, self.wave, self.sr = container, rate, wave, sr
        self.vstream: Any = None
        self.count = 0
        self.size: tuple[int, int] | None = None

    def write(self, frames: np.ndarray) -> None:
        # PyAV reads the raw buffer: a strided view (a window's frames) must be made contiguous
        frames = np.ascontiguousarray(_even(_as_frames(frames)))
        if self.vstream is None:
            self._start(frames.shape[1], frames.shape[2])
        elif frames.shape[1:3] != self.size:
            raise AvgenError(
                f"frames of {frames.shape[2]}x{frames.shape[1]} cannot follow frames of "
                f"{self.size[1]}x{self.size[0]} in one video."
            )
        for image in frames:
            vframe = av.VideoFrame.from_ndarray(image, format="rgb24")
            vframe.pts, vframe.time_base = self.count, 1 / self.rate
            self.container.mux(self.vstream.encode(vframe))
            self.count += 1

    def _start(self, height: int, width: int) -> None:
        options = {"crf": "18", "x264-params": X264_PARAMS}
        vstream = self.container.add_stream("libx264", rate=self.rate, options=options)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.codec_context.time_base = 1 / self.rate
        self.vstream, self.size = vstream, (height, width)
        if self.wave is None:
            return
        wave, sr = self.wave, self.sr
        layout = "mono" if wave.shape[0] == 1 else "stereo"
        astream = self.container.add_stream("aac", rate=sr, layout=layout)
        astream.codec_context.time_base = Fraction(1, sr)
        step = 1024  # AAC frame size
        for start in range(0, wave.shape[1], step):
            chunk = np.ascontiguousarray(wave[:, start : start + step])  # (C, n)
            aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            aframe.sample_rate, aframe.pts = sr, start
            aframe.time_base = Fraction(1, sr)
            self.container.mux(astream.encode(aframe))
        self.container.mux(astream.encode(None))
        self.wave = None  # muxed: the encoder keeps no copy

    def finish(self) -> None:
        if self.vstream is None:
            raise AvgenError("no frames were written; a video needs at least one frame.")
        self.container.mux(self.vstream.encode(None))


@contextlib.contextmanager
def mp4_stream(
    path: str | Path,
    fps: float,
    *,
    audio: np.ndarray | None = None,
    sr: int = 16000,
    num_frames: int | None = None,
    overwrite: bool = True,
) -> Iterator[Callable[[np.ndarray], None]]:
    """Write an MP4 block by block: yields ``write(frames)`` that encodes uint8 (F, H, W, 3)
    frames as they come (a long video never sits whole in memory), publishes the file when the
    block ends and deletes it on an error (``atomic_output``). H.264 and AAC exactly as
    ``write_mp4``; ``audio`` (the whole soundtrack, (T,) or (C, T)) is trimmed or padded to
    ``num_frames`` / fps seconds, which it then needs. Every frame must have the first one's
    size; the frame count written must be ``num_frames`` when given."""
    path = Path(path)
    if path.suffix.lower() not in _VIDEO_EXTENSIONS:
        raise AvgenError(f"Unsupported video extension '{path.suffix}'; use .mp4.")
    check_writable(path)
    fps = _check_fps(fps)
    rate = Fraction(fps).limit_denominator(1001)
    wave = None
    if audio is not None:
        if num_frames is None:
            raise AvgenError("an MP4 with audio needs its frame count (num_frames) up front.")
        sr = _check_sr(sr)
        wave = np.clip(_as_audio(audio)[:2], -1.0, 1.0)  # (C, T), at most stereo
        n_samples = round(num_frames / rate * sr)
        wave = np.pad(wave[:, :n_samples], ((0, 0), (0, max(0, n_samples - wave.shape[1]))))
    with atomic_output(path, overwrite=overwrite) as tmp:
        with av.open(
            str(tmp), mode="w", format="mp4", container_options={"movflags": "+faststart"}
        ) as container:
            encoder = _Mp4Encoder(container, rate, wave, sr)
            yield encoder.write
            if num_frames is not None and encoder.count != num_frames:
                raise AvgenError(
                    f"{encoder.count} frames were written to {path}; {num_frames} were announced."
                )
            encoder.finish()


def read_mp4(path: str | Path) -> tuple[np.ndarray, float, np.ndarray | None, int]:
    """Decode an MP4 to (frames uint8 (F, H, W, 3), fps, mono float32 audio (T,) or None, sr).

    `sr` is 0 when the file has no audio stream.
    """
    path = Path(path)
    if not path.is_file():
        raise AvgenError(f"Video file '{path}' does not exist.")
    try:
        with _open_input(path, "video") as container:
            if not container.streams.video:
                raise AvgenError(f"File '{path}' has no video stream.")
            vstream = container.streams.video[0]
            rate = vstream.average_rate or vstream.guessed_rate or 0
            images = [f.to_ndarray(format="rgb24") for f in container.decode(vstream)]
        with _open_input(path, "video") as container:
            decoded = _decode_audio_av(container)
    except av.FFmpegError as e:
        raise AvgenError(f"Could not decode video from '{path}': {e}.") from e
    if not images:
        raise AvgenError(f"Video file '{path}' holds no frames.")
    frames = np.stack(images)  # (F, H, W, 3)
    if decoded is None:
        return frames, float(rate), None, 0
    audio, sr = decoded
    return frames, float(rate), audio.mean(axis=0, dtype=np.float32), sr


def write_gif(path: str | Path, frames: np.ndarray, fps: float, *, overwrite: bool = True) -> Path:
    """Write an endlessly looping GIF with Pillow (delays are whole 10 ms units, at least 20 ms).

    Pillow merges identical consecutive frames into one longer frame; total time is kept.
    """
    path = Path(path)
    check_writable(path)
    frames = _as_frames(frames)
    delay = max(20, round(100 / _check_fps(fps)) * 10)  # ms; browsers slow down < 20 ms
    images = [Image.fromarray(f) for f in frames]
    with atomic_output(path, overwrite=overwrite) as tmp:
        images[0].save(
            tmp, format="GIF", save_all=True, append_images=images[1:], duration=delay, loop=0
        )
    return path


def write_contact_sheet(
    path: str | Path,
    frames: np.ndarray,
    *,
    columns: int = 8,
    max_frames: int = 32,
    overwrite: bool = True,
    tracks: np.ndarray | None = None,
    marks: list[int] | None = None,
) -> Path:
    """Write a PNG grid of up to `max_frames` evenly sampled frames, 2 px grey separators.

    `tracks` (frames, objects, 2): planned object centres (x, y as fractions of the frame, NaN
    where unplanned); each tile then shows every object's whole trajectory as a thin line and
    a ring where the plan puts it in that frame. `marks`: frame indices (a sound's events);
    a tile standing for a marked frame (from its own frame up to the next tile's) gets a
    yellow bar along its bottom edge."""
    path = Path(path)
    check_writable(path)
    frames = _as_frames(frames)
    if columns < 1 or max_frames < 1:
        raise AvgenError(f"columns and max_frames must be >= 1, got {columns}, {max_frames}.")
    n_frames, h, w, _ = frames.shape
    idx = np.unique(np.linspace(0, n_frames - 1, min(n_frames, max_frames)).round().astype(int))
    cols = min(columns, len(idx))
    rows = math.ceil(len(idx) / cols)
    sep = 2
    sheet = np.full((rows * (h + sep) - sep, cols * (w + sep) - sep, 3), 48, dtype=np.uint8)
    for k, i in enumerate(idx):
        r, c = divmod(k, cols)
        sheet[r * (h + sep) : r * (h + sep) + h, c * (w + sep) : c * (w + sep) + w] = frames[i]
    image = Image.fromarray(sheet)
    if tracks is not None:
        tracks = np.asarray(tracks, dtype=np.float64)
        if tracks.ndim != 3 or tracks.shape[0] != n_frames or tracks.shape[2] != 2:
            raise AvgenError(
                f"tracks have shape {tuple(tracks.shape)}; expected ({n_frames}, objects, 2)."
            )
        _draw_tracks(image, tracks, idx, cols, h, w, sep)
    if marks:
        _draw_marks(image, np.asarray(marks, dtype=np.int64), idx, n_frames, cols, h, w, sep)
    with atomic_output(path, overwrite=overwrite) as tmp:
        image.save(tmp, format="PNG")
    return path


_TRACK_COLOURS = ((255, 255, 255), (255, 220, 0), (0, 230, 255), (255, 80, 200))


def _draw_tracks(
    image: Image.Image, tracks: np.ndarray, idx: np.ndarray, cols: int, h: int, w: int, sep: int
) -> None:
    """Each object's planned path (a line) and its planned place in each tile (a ring)."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    ring = max(2, min(h, w) // 24)
    for k, i in enumerate(idx):
        r, c = divmod(k, cols)
        x0, y0 = c * (w + sep), r * (h + sep)
        for j in range(tracks.shape[1]):
            colour = _TRACK_COLOURS[j % len(_TRACK_COLOURS)]
            pts = [
                (x0 + float(np.clip(x, 0, 1)) * (w - 1), y0 + float(np.clip(y, 0, 1)) * (h - 1))
                for x, y in tracks[:, j]
                if np.isfinite(x) and np.isfinite(y)
            ]
            if len(pts) > 1:
                draw.line(pts, fill=colour, width=1)
            x, y = tracks[i, j]
            if np.isfinite(x) and np.isfinite(y) and 0 <= x <= 1 and 0 <= y <= 1:
                px, py = x0 + x * (w - 1), y0 + y * (h - 1)
                draw.ellipse((px - ring, py - ring, px + ring, py + ring), outline=colour)


def _draw_marks(
    image: Image.Image,
    marks: np.ndarray,
    idx: np.ndarray,
    n_frames: int,
    cols: int,
    h: int,
    w: int,
    sep: int,
) -> None:
    """A yellow bar under each tile whose span of frames holds a marked frame."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    bar = max(2, h // 32)
    ends = list(idx[1:]) + [n_frames]
    for k, (start, end) in enumerate(zip(idx, ends, strict=True)):
        if np.any((marks >= start) & (marks < end)):
            r, c = divmod(k, cols)
            x0, y1 = c * (w + sep), r * (h + sep) + h
            draw.rectangle((x0, y1 - bar, x0 + w - 1, y1 - 1), fill=(255, 220, 0))


def upscale_frames(frames: np.ndarray, short_side: int, *, method: str = "nearest") -> np.ndarray:
    """Enlarge (F, H, W, 3) frames so the shorter side is `short_side`, keeping the aspect.

    `method` is "nearest" (crisp pixels) or "bilinear". Frames already that large are returned
    unchanged.
    """
    frames = _as_frames(frames)
    filters = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR}
    if method not in filters:
        raise AvgenError(f"Unknown upscale method '{method}'; use 'nearest' or 'bilinear'.")
    if short_side < 1:
        raise AvgenError(f"short_side must be >= 1 pixel, got {short_side}.")
    _, h, w, _ = frames.shape
    if min(h, w) >= short_side:
        return frames
    scale = short_side / min(h, w)
    size = (max(short_side, round(w * scale)), max(short_side, round(h * scale)))  # (W, H)
    out = [np.asarray(Image.fromarray(f).resize(size, filters[method])) for f in frames]
    return np.stack(out)  # (F, H', W', 3)


# ------------------------------------------------------------------ spectrograms


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above (Auditory Toolbox)."""
    f = np.asarray(f, dtype=np.float64)
    log_step = math.log(6.4) / 27.0
    return np.where(
        f < 1000.0, f * 3.0 / 200.0, 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) / log_step
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    log_step = math.log(6.4) / 27.0
    return np.where(m < 15.0, m * 200.0 / 3.0, 1000.0 * np.exp(log_step * (m - 15.0)))


def mel_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular Slaney-style mel filters, area-normalised, 0 Hz to sr/2: (n_mels, n_fft//2+1)."""
    bins_hz = np.arange(n_fft // 2 + 1) * sr / n_fft
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(sr / 2.0), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (n_mels, 1)
    rise = (bins_hz - lo) / (mid - lo)
    fall = (hi - bins_hz) / (hi - mid)
    weights = np.maximum(0.0, np.minimum(rise, fall))  # (n_mels, n_bins)
    return weights * (2.0 / (hi - lo))


def mel_spectrogram_np(
    audio: np.ndarray, sr: int, n_mels: int = 64, hop: int = 160, n_fft: int = 1024
) -> np.ndarray:
    """Log-mel power spectrogram, ln(max(mel, 1e-10)), shape (n_mels, 1 + T // hop).

    Periodic Hann window, centred frames (reflect padding), numpy rfft, Slaney mel filters.
    Multichannel (C, T) audio is averaged to mono first.
    """
    sr = _check_sr(sr)
    if not (1 <= hop <= n_fft and 2 <= n_fft and 1 <= n_mels <= n_fft // 2 + 1):
        raise AvgenError(
            f"Need 1 <= hop <= n_fft and 1 <= n_mels <= n_fft//2+1, "
            f"got n_mels={n_mels}, hop={hop}, n_fft={n_fft}."
        )
    wave = _as_audio(audio).mean(axis=0, dtype=np.float64)  # (T,)
    mode = "reflect" if wave.size > n_fft // 2 else "constant"
    padded = np.pad(wave, n_fft // 2, mode=mode)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]  # (N, n_fft)
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2  # (N, n_fft//2+1)
    mel = mel_filterbank(sr, n_fft, n_mels) @ power.T  # (n_mels, N)
    return np.log(np.maximum(mel, 1e-10)).astype(np.float32)


def colorize(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB with a magma-like ramp: (...,) -> (..., 3)."""
    pos = np.linspace(0.0, 1.0, len(_RAMP))
    v = np.clip(values, 0.0, 1.0)
    rgb = [np.interp(v, pos, _RAMP[:, c]) for c in range(3)]
    return np.stack(rgb, axis=-1).round().astype(np.uint8)


def write_spectrogram_png(
    path: str | Path,
    audio: np.ndarray,
    sr: int,
    notes: list[tuple[float, float, int]] | None = None,
    *,
    overwrite: bool = True,
) -> Path:
    """Plot the log-mel spectrogram as a PNG: 256 px tall, 100 px per second (400 to 8000 wide).

    Low frequencies at the bottom; the top 80 dB below the loudest bin are shown. ``notes``
    ((onset s, length s, MIDI pitch), a note plan's) are outlined in cyan at their fundamental's
    height, so a planned and a generated melody can be compared by eye.
    """
    path = Path(path)
    check_writable(path)
    sr = _check_sr(sr)
    wave = _as_audio(audio)
    logmel = mel_spectrogram_np(wave, sr, n_mels=64, hop=max(1, sr // 100), n_fft=1024)
    db = logmel * (10.0 / math.log(10.0))
    top = float(db.max())
    norm = (np.maximum(db, top - 80.0) - (top - 80.0)) / 80.0  # (n_mels, N) in [0, 1]
    width = int(np.clip(round(wave.shape[1] / sr * 100), 400, 8000))
    image = Image.fromarray(colorize(norm[::-1]))  # row 0 = highest mel band
    image = image.resize((width, 256), Image.Resampling.BILINEAR)
    if notes:
        _draw_notes(image, notes, wave.shape[1] / sr, sr)
    with atomic_output(path, overwrite=overwrite) as tmp:
        image.save(tmp, format="PNG")
    return path


def _draw_notes(image: Image.Image, notes: list[tuple[float, float, int]], seconds: float, sr: int):
    """Outline each (onset, length, pitch) on a spectrogram image (mel rows as
    ``write_spectrogram_png`` draws them: 0 Hz at the bottom, sr / 2 at the top)."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    w, h = image.size
    top = float(_hz_to_mel(sr / 2.0))
    for onset, length, pitch in notes:
        hz = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
        y = h - 1 - float(_hz_to_mel(hz)) / top * (h - 1)
        x0 = onset / seconds * w
        x1 = max(x0 + 2, (onset + length) / seconds * w)
        draw.rectangle([x0, y - 2, x1, y + 2], outline=(0, 230, 255))


# ------------------------------------------------------------------ probing


def probe(path: str | Path) -> dict:
    """Describe a media file with PyAV: {"format", "duration_s", "streams": [{type, codec, ...}]}.

    Stream durations come from the container's timing (edit lists applied), in seconds.
    """
    path = Path(path)
    if not path.is_file():
        raise AvgenError(f"Media file '{path}' does not exist.")
    with _open_input(path, "a media file") as container:
        streams = []
        for s in container.streams:
            info: dict = {"type": s.type, "codec": s.codec_context.name, "duration_s": None}
            if s.duration is not None and s.time_base is not None:
                info["duration_s"] = float(s.duration * s.time_base)
            if s.type == "video":
                rate = s.average_rate or s.guessed_rate
                info.update(
                    width=s.codec_context.width,
                    height=s.codec_context.height,
                    pix_fmt=s.codec_context.pix_fmt,
                    fps=float(rate) if rate else None,
                    frames=s.frames,
                )
            elif s.type == "audio":
                info.update(sample_rate=s.rate, channels=s.codec_context.channels)
            streams.append(info)
        duration = container.duration / 1e6 if container.duration is not None else None
        return {"format": container.format.name, "duration_s": duration, "streams": streams}
