"""Training batches from a captioned media folder, decoded once into a tensor cache.

Reads the AudioFolder / VideoFolder layout that the worlds write and users bring:
``metadata.jsonl`` (one JSON object a line with ``file_name`` and ``text``, optionally
``captions``: every phrasing) beside wav / flac / ogg / mp3 audio or mp4 video. The first
time a folder is read with a given set of options every file is decoded, resampled and
cropped or padded, and the result is stored as ``<folder>/.avgen_cache/<options>.safetensors``
with an index JSON that records each file's size and modification time; later epochs and later
runs read only that cache, and a changed, added or removed file rebuilds it.

Items are dicts: ``audio`` float32 (T,) at ``sr`` (kinds audio and av), ``video`` float32
(3, F, H, W) in [-1, 1] (kinds video and av), ``audio_length`` / ``video_length`` (how much of
each is real rather than padding), ``text`` (one caption, drawn at random per item when there
are several; seed with ``torch.manual_seed``) and ``index``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from avgen import media
from avgen.errors import AvgenError

CACHE_VERSION = 1
CACHE_DIR = ".avgen_cache"
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
VIDEO_EXTENSIONS = (".mp4",)
KINDS = ("audio", "video", "av")


def read_metadata(folder: Path) -> list[dict]:
    """The rows of ``folder/metadata.jsonl``, each with ``file_name`` and ``captions``."""
    path = folder / "metadata.jsonl"
    if not path.is_file():
        raise AvgenError(f"{path} does not exist; a data folder needs a metadata.jsonl.")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AvgenError(f"{path} line {n} is not valid JSON ({exc.msg}).") from exc
        if not isinstance(row, dict) or not isinstance(row.get("file_name"), str):
            raise AvgenError(f"{path} line {n} has no file_name; every row needs one.")
        captions = row.get("captions")
        if not (isinstance(captions, list) and all(isinstance(c, str) for c in captions)):
            captions = []
        text = row.get("text")
        if isinstance(text, str) and text not in captions:
            captions = [text, *captions]
        if not captions:
            raise AvgenError(f"{path} line {n} has no text caption; every row needs one.")
        rows.append({"file_name": row["file_name"], "captions": captions})
    if not rows:
        raise AvgenError(f"{path} lists no files; add one row per media file.")
    return rows


def _fingerprint(folder: Path, rows: list[dict]) -> str:
    """Hash of every listed file's name, size and modification time (and of the metadata)."""
    h = hashlib.sha256()
    for name in ["metadata.jsonl"] + [r["file_name"] for r in rows]:
        path = folder / name
        if not path.is_file():
            raise AvgenError(f"media file {path} listed in metadata.jsonl does not exist.")
        st = path.stat()
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _fit_length(x: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Crop or zero-pad along the first axis to n; also return how much of it is real."""
    real = min(len(x), n)
    if len(x) >= n:
        return x[:n], real
    pad = np.zeros((n - len(x),) + x.shape[1:], dtype=x.dtype)
    return np.concatenate([x, pad]), real


def _resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """(F, H, W, 3) uint8 -> (F, size, size, 3): scale the short side, crop the centre."""
    f, h, w, _ = frames.shape
    if h == size and w == size:
        return frames
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()  # (F, 3, H, W)
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    x = torch.nn.functional.interpolate(
        x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False
    )
    top, left = (nh - size) // 2, (nw - size) // 2
    x = x[:, :, top : top + size, left : left + size]
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (F, S, S, 3)


def _retime(frames: np.ndarray, fps_in: float, fps_out: float, n: int) -> tuple[np.ndarray, int]:
    """Pick the source frame shown at each output time k / fps_out; pad with the last frame."""
    if fps_in <= 0:
        fps_in = fps_out
    t = np.arange(n) / fps_out
    src = np.floor(t * fps_in + 1e-6).astype(int)
    real = int((src < len(frames)).sum())
    src = np.minimum(src, len(frames) - 1)
    return frames[src], real


class WorldDataset(Dataset):
    """A captioned audio / video / audio+video folder as a torch Dataset over a tensor cache.

    ``seconds`` sets the audio length (default: the frames' length for av, else 4 s);
    ``num_frames`` the video length (default ``seconds * fps``). Video is resized to
    ``size`` x ``size`` (short side scaled, centre cropped) and retimed to ``fps``.
    """

    def __init__(
        self,
        folder: str | Path,
        kind: str = "audio",
        *,
        sr: int = 16000,
        seconds: float | None = None,
        size: int = 64,
        fps: float = 8,
        num_frames: int | None = None,
        cache_dir: str | Path | None = None,
        quiet: bool = True,
    ) -> None:
        if kind not in KINDS:
            raise AvgenError(f"kind {kind!r} is not one of: {', '.join(KINDS)}.")
        if isinstance(sr, bool) or not isinstance(sr, int) or not 1000 <= sr <= 192000:
            raise AvgenError(f"sr must be a whole number of Hz from 1000 to 192000, got {sr!r}.")
        if seconds is not None and not (isinstance(seconds, int | float) and 0 < seconds <= 600):
            raise AvgenError(f"seconds must be more than 0 and at most 600, got {seconds!r}.")
        if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 2048:
            raise AvgenError(f"size must be a whole number of pixels from 8 to 2048, got {size!r}.")
        if not isinstance(fps, int | float) or not 0.5 <= fps <= 240:
            raise AvgenError(f"fps must be from 0.5 to 240, got {fps!r}.")
        if num_frames is not None and (
            isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1
        ):
            raise AvgenError(f"num_frames must be a whole number >= 1, got {num_frames!r}.")
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise AvgenError(f"data folder {self.folder} does not exist.")
        self.kind = kind
        if num_frames is None:
            num_frames = max(1, round((seconds or 4.0) * fps))
        if seconds is None:
            seconds = num_frames / fps if kind == "av" else 4.0
        self.sr, self.seconds, self.size, self.fps = sr, float(seconds), size, float(fps)
        self.num_frames = num_frames
        self.num_samples = max(1, round(self.seconds * sr))
        self.rows = read_metadata(self.folder)
        for row in self.rows:
            ext = Path(row["file_name"]).suffix.lower()
            allowed = AUDIO_EXTENSIONS if kind == "audio" else VIDEO_EXTENSIONS
            if kind == "audio" and ext in VIDEO_EXTENSIONS:
                continue  # the soundtrack of a video is audio too
            if ext not in allowed:
                raise AvgenError(
                    f"file {row['file_name']} is not {kind} media; "
                    f"expected one of {', '.join(allowed)}."
                )
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.folder / CACHE_DIR
        self.tensors = self._load_or_build(quiet)

    # ------------------------------------------------------------------ cache

    def options(self) -> dict[str, Any]:
        return {
            "cache_version": CACHE_VERSION,
            "kind": self.kind,
            "sr": self.sr,
            "num_samples": self.num_samples,
            "size": self.size,
            "fps": self.fps,
            "num_frames": self.num_frames,
        }

    def cache_paths(self) -> tuple[Path, Path]:
        key = hashlib.sha256(json.dumps(self.options(), sort_keys=True).encode()).hexdigest()[:16]
        return self.cache_dir / f"{key}.safetensors", self.cache_dir / f"{key}.json"

    def _load_or_build(self, quiet: bool) -> dict[str, torch.Tensor]:
        fingerprint = _fingerprint(self.folder, self.rows)
        data_path, index_path = self.cache_paths()
        if data_path.is_file() and index_path.is_file():
            try:
                index = json.loads(index_path.read_text())
            except (OSError, json.JSONDecodeError):
                index = None
            if (
                isinstance(index, dict)
                and index.get("fingerprint") == fingerprint
                and index.get("options") == self.options()
            ):
                try:
                    return load_file(data_path)
                except (OSError, RuntimeError, ValueError):
                    pass  # a broken cache: build it again
        tensors = self._decode_all(quiet)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with media.atomic_output(data_path) as tmp:
                save_file(tensors, str(tmp))
            index = {
                "options": self.options(),
                "fingerprint": fingerprint,
                "files": [r["file_name"] for r in self.rows],
            }
            with media.atomic_output(index_path) as tmp:
                tmp.write_text(json.dumps(index, allow_nan=False) + "\n")
        except (OSError, AvgenError) as exc:
            warnings.warn(
                f"could not write the cache in {self.cache_dir} ({exc}); kept in memory.",
                stacklevel=2,
            )
        return tensors

    def _decode_all(self, quiet: bool) -> dict[str, torch.Tensor]:
        n = len(self.rows)
        want_audio = self.kind in ("audio", "av")
        want_video = self.kind in ("video", "av")
        audio = np.zeros((n, self.num_samples), np.float16) if want_audio else None
        video = (
            np.zeros((n, self.num_frames, self.size, self.size, 3), np.uint8)
            if want_video
            else None
        )
        a_len = np.zeros(n, np.int64)
        v_len = np.zeros(n, np.int64)
        for i, row in enumerate(tqdm(self.rows, desc="decoding", unit="file", disable=quiet)):
            path = self.folder / row["file_name"]
            ext = path.suffix.lower()
            wave = None
            if ext in VIDEO_EXTENSIONS:
                frames, fps_in, wave, sr_in = media.read_mp4(path)
                if want_video:
                    frames, v_len[i] = _retime(frames, fps_in, self.fps, self.num_frames)
                    video[i] = _resize_frames(frames, self.size)
                if wave is not None and want_audio and sr_in != self.sr:
                    wave = media.resample(wave, sr_in, self.sr)
            elif want_audio:
                wave, _ = media.read_audio(path, sr=self.sr)
            if want_audio and wave is not None:
                fitted, a_len[i] = _fit_length(np.asarray(wave, np.float32), self.num_samples)
                audio[i] = np.clip(fitted, -65000, 65000).astype(np.float16)
        out: dict[str, torch.Tensor] = {}
        if audio is not None:
            out["audio"] = torch.from_numpy(audio)
            out["audio_length"] = torch.from_numpy(a_len)
        if video is not None:
            out["video"] = torch.from_numpy(video)
            out["video_length"] = torch.from_numpy(v_len)
        return out

    # ------------------------------------------------------------------ items

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        captions = self.rows[i]["captions"]
        pick = int(torch.randint(len(captions), (1,))) if len(captions) > 1 else 0
        item: dict[str, Any] = {"text": captions[pick], "index": i}
        if "audio" in self.tensors:
            item["audio"] = self.tensors["audio"][i].float()  # (T,)
            item["audio_length"] = int(self.tensors["audio_length"][i])
        if "video" in self.tensors:
            v = self.tensors["video"][i].permute(3, 0, 1, 2).float()  # (3, F, H, W)
            item["video"] = v / 127.5 - 1.0
            item["video_length"] = int(self.tensors["video_length"][i])
        return item


def make_loader(
    folder: str | Path,
    kind: str = "audio",
    *,
    batch_size: int = 16,
    shuffle: bool = True,
    num_workers: int = 0,
    drop_last: bool = False,
    seed: int | None = None,
    **dataset_kwargs: Any,
) -> DataLoader:
    """A DataLoader of WorldDataset batches (``dataset_kwargs`` go to WorldDataset)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise AvgenError(f"batch_size must be a whole number >= 1, got {batch_size!r}.")
    dataset = WorldDataset(folder, kind, **dataset_kwargs)
    generator = None
    if seed is not None:
        generator = torch.Generator().manual_seed(int(seed))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        drop_last=drop_last,
        generator=generator,
        persistent_workers=num_workers > 0,
    )
