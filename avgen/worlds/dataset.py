"""Write a procedural-world data set: media files plus ``metadata.jsonl``, in parallel.

The folder is the Hugging Face AudioFolder / VideoFolder layout (``metadata.jsonl`` with
``file_name`` and ``text`` beside the media), so ``datasets.load_dataset("audiofolder", ...)``
and avgen's own loader read it, and a user's own data in that layout trains the same way.

Clip ``i`` is rendered from a seed derived from ``(seed, i)`` alone, so any clip can be remade
on its own and a half-written data set resumes where it stopped: media files are written
atomically, each finished clip's record is appended to ``.metadata.partial.jsonl``, and
``metadata.jsonl`` is written (atomically) only once every clip is there.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from avgen import __version__
from avgen.errors import AvgenError
from avgen.media import atomic_output, write_audio, write_mp4
from avgen.vocab import (
    DEFAULT_EXCLUDED_INSTRUMENTS,
    INSTRUMENTS,
    RAGA_INSTRUMENTS,
    WORLD_VERSION,
)
from avgen.worlds.av import render_av_clip
from avgen.worlds.motion import render_motion_clip
from avgen.worlds.sound import render_sound_clip

KINDS = ("audio", "video", "av")
HELDOUT_MODES = ("exclude", "only", "any")
EXTENSIONS = {"audio": ".wav", "video": ".mp4", "av": ".mp4"}
METADATA = "metadata.jsonl"
MANIFEST = "avgen_dataset.json"  # the request that made the folder, to resume or refuse
PARTIAL = ".metadata.partial.jsonl"
MAX_COUNT = 10_000_000


def clip_seed(seed: int, index: int) -> int:
    """The render seed of clip ``index`` in a data set made with ``seed`` (same everywhere)."""
    digest = hashlib.sha256(f"avgen-world-dataset/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def clip_file_name(kind: str, index: int) -> str:
    return f"clip_{index:06d}{EXTENSIONS[kind]}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in metadata.jsonl")


def _check_instruments(names: list[str] | None, what: str) -> list[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    known = {**INSTRUMENTS, **RAGA_INSTRUMENTS}
    for name in names:
        if name not in known:
            raise AvgenError(
                f"unknown instrument {name!r} in {what}; known: {', '.join(sorted(known))}."
            )
    return list(names)


def _request(
    kind: str,
    count: int,
    seed: int,
    size: int,
    fps: int,
    instruments: list[str] | None,
    exclude: list[str] | None,
    heldout: str,
    duration_s: float | None,
) -> dict:
    """Check every argument and return the request as it is recorded in the manifest."""
    if kind not in KINDS:
        raise AvgenError(f"data set kind {kind!r} is not one of: {', '.join(KINDS)}.")
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count <= 0:
        raise AvgenError(f"count must be a positive whole number of clips, got {count!r}.")
    if count > MAX_COUNT:
        raise AvgenError(f"count {count} is more than the {MAX_COUNT} clips one folder holds.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise AvgenError(f"seed must be a whole number, got {seed!r}.")
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or not 16 <= size <= 1024:
        raise AvgenError(f"size must be a whole number of pixels from 16 to 1024, got {size!r}.")
    if isinstance(fps, bool) or not isinstance(fps, int | np.integer) or not 1 <= fps <= 60:
        raise AvgenError(f"fps must be a whole number from 1 to 60, got {fps!r}.")
    if heldout not in HELDOUT_MODES:
        raise AvgenError(f"heldout must be one of {', '.join(HELDOUT_MODES)}, got {heldout!r}.")
    if duration_s is not None and not (
        isinstance(duration_s, int | float) and 1.0 <= duration_s <= 10.0
    ):
        raise AvgenError(f"duration_s must be from 1 to 10 seconds, got {duration_s!r}.")
    instruments = _check_instruments(instruments, "instruments")
    exclude = _check_instruments(exclude, "exclude")
    if exclude is None and instruments is None:
        exclude = list(DEFAULT_EXCLUDED_INSTRUMENTS)
    return {
        "kind": kind,
        "count": int(count),
        "seed": int(seed),
        "size": int(size),
        "fps": int(fps),
        "instruments": instruments,
        "exclude": exclude,
        "heldout": heldout,
        "duration_s": None if duration_s is None else float(duration_s),
        "world_version": WORLD_VERSION,
    }


def render_record(request: dict, index: int, out: Path) -> dict:
    """Render clip ``index`` of ``request``, write its media file into ``out``, return its row."""
    kind = request["kind"]
    seed = clip_seed(request["seed"], index)
    name = clip_file_name(kind, index)
    if kind == "audio":
        clip = render_sound_clip(
            seed,
            duration_s=request["duration_s"],
            instruments=request["instruments"],
            exclude=request["exclude"],
            heldout=request["heldout"],
        )
        write_audio(out / name, clip.audio, clip.sr)
    elif kind == "video":
        clip = render_motion_clip(
            seed,
            size=request["size"],
            fps=request["fps"],
            duration_s=request["duration_s"],
            heldout=request["heldout"],
        )
        write_mp4(out / name, clip.frames, clip.fps)
    else:
        clip = render_av_clip(
            seed,
            size=request["size"],
            fps=request["fps"],
            duration_s=request["duration_s"],
            heldout=request["heldout"],
            instruments=request["instruments"],
            exclude=request["exclude"],
        )
        write_mp4(out / name, clip.frames, clip.fps, audio=clip.audio, sr=clip.sr)
    captions = list(clip.captions)
    pick = np.random.default_rng([seed, 1]).integers(len(captions))
    row = {"file_name": name, "text": captions[pick], "captions": captions}
    for key, value in clip.truth.items():
        if key not in row:
            row[key] = value
    return row


def _work(job: tuple[dict, int, str]) -> str:
    request, index, out = job
    row = render_record(request, index, Path(out))
    return json.dumps(row, default=_jsonable, allow_nan=False)


def _index_of(file_name: str) -> int:
    return int(Path(file_name).stem.split("_")[-1])


def _read_partial(out: Path, request: dict) -> dict[int, str]:
    """Rows already finished in an earlier run whose media file exists (bad lines skipped)."""
    done: dict[int, str] = {}
    for path in (out / PARTIAL, out / METADATA):
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
                i = _index_of(row["file_name"])
            except (json.JSONDecodeError, KeyError, ValueError, TypeError):
                continue  # a line cut short by a crash
            if 0 <= i < request["count"] and (out / row["file_name"]).is_file():
                done[i] = line
    return done


def _prepare_folder(out: Path, request: dict) -> None:
    manifest = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise AvgenError(f"output {out} is a file; give a folder for the data set.")
    if out.is_dir() and any(out.iterdir()):
        try:
            recorded = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            recorded = None
        if not isinstance(recorded, dict) or recorded.get("request") != request:
            raise AvgenError(
                f"folder {out} is not empty and holds a different data set; give an empty or "
                "new folder, or repeat the exact request that made it to resume."
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(manifest) as tmp:
        record = {"request": request, "avgen_version": __version__}
        tmp.write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")


def _chunksize(todo: int, workers: int) -> int:
    return max(1, min(16, todo // (workers * 8)))


def _run_pool(jobs: list[tuple[dict, int, str]], workers: int) -> Iterator[str]:
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _work(job)
        return
    # one thread per worker process: the clips are the parallelism
    saved = {
        k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    }
    for k in saved:
        os.environ[k] = "1"
    try:
        ctx = mp.get_context("spawn")
        with ctx.Pool(min(workers, len(jobs))) as pool:
            yield from pool.imap_unordered(_work, jobs, chunksize=_chunksize(len(jobs), workers))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def write_world_dataset(
    kind: str,
    count: int,
    out: str | Path,
    *,
    seed: int = 0,
    size: int = 64,
    fps: int = 8,
    instruments: list[str] | None = None,
    exclude: list[str] | None = None,
    heldout: str = "exclude",
    workers: int | None = None,
    quiet: bool = False,
    duration_s: float | None = None,
) -> Path:
    """Render ``count`` clips of a world (``kind`` audio | video | av) into the folder ``out``.

    Sitar and shanai are left out unless ``instruments`` names them (``["sitar", "shanai"]``
    renders the raga set); ``heldout`` picks the held-out combinations ("exclude" for training
    sets, "only" for benchmarks). ``duration_s`` fixes every clip's length (default: drawn,
    1 to 10 s). Work is spread over ``workers`` processes (default: every core). Rerunning the
    same request on a half-written folder finishes it; any other non-empty folder is refused.
    Returns the folder.
    """
    request = _request(kind, count, seed, size, fps, instruments, exclude, heldout, duration_s)
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise AvgenError(f"workers must be a whole number of processes >= 1, got {workers!r}.")
    out = Path(out)
    _prepare_folder(out, request)
    done = _read_partial(out, request)
    if len(done) == count and (out / METADATA).is_file():
        return out  # already complete
    todo = [(request, i, str(out)) for i in range(count) if i not in done]
    with (
        tqdm(
            total=count, initial=len(done), disable=quiet, desc=f"{kind} clips", unit="clip"
        ) as bar,
        open(out / PARTIAL, "a") as partial,
    ):
        for line in _run_pool(todo, workers):
            partial.write(line + "\n")
            partial.flush()
            done[_index_of(json.loads(line)["file_name"])] = line
            bar.update(1)
    with atomic_output(out / METADATA) as tmp:
        tmp.write_text("".join(done[i] + "\n" for i in range(count)))
    (out / PARTIAL).unlink(missing_ok=True)
    return out
