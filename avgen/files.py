"""Safe writing of every file avgen makes: unique temporary names, one-step publishing, and the
overwrite policy.

A file is written under a temporary name in its own folder that no other writer can pick
(``.<stem>.tmp-<pid>-<random><suffix>``: the process id and 48 random bits; the real extension
stays last for libraries that choose a format from it), then published in one step:

- ``overwrite=True``: ``os.replace`` onto the final name; concurrent writers never mix, the
  last one wins.
- ``overwrite=False``: ``os.link`` of the temporary file to the final name, which fails if the
  name exists, even when it appeared after the check before generating; the temporary name is
  then removed. A file system without hard links falls back to claiming the name with
  ``O_CREAT | O_EXCL`` and replacing the claim.

On any error the temporary file is removed, so nothing half written is ever left. Every JSON
file is standard JSON (``allow_nan=False``): a NaN or infinite number is an AvgenError, not
``NaN`` or ``Infinity`` in the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from avgen.errors import AvgenError, OutputExistsError

# errno values of a file system that has no hard links (FAT, some network and FUSE mounts)
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}
TEMP_MARK = ".tmp-"


def temp_path(path: str | Path) -> Path:
    """A temporary name beside ``path`` that no other writer, thread or process, can choose."""
    path = Path(path)
    token = f"{os.getpid()}-{secrets.token_hex(6)}"
    return path.with_name(f".{path.stem}{TEMP_MARK}{token}{path.suffix}")


def is_temp_name(name: str) -> bool:
    """True for a name ``temp_path`` makes (to find leftovers)."""
    return name.startswith(".") and TEMP_MARK in name


def exists_message(path: Path) -> str:
    return (
        f"output {path} already exists; pass --overwrite (overwrite=True in the API) to "
        "replace it, or choose another name."
    )


def check_new(paths: Iterable[str | Path], *, overwrite: bool) -> list[Path]:
    """The outputs of one run, checked before any work: no name twice, no folder, and without
    ``overwrite`` none that exists yet. Raise OutputExistsError / AvgenError naming the first."""
    seen: set[Path] = set()
    out = []
    for path in map(Path, paths):
        key = Path(os.path.abspath(path))
        if key in seen:
            raise AvgenError(f"output {path} would be written twice in one run; rename one.")
        seen.add(key)
        try:
            is_dir, there = path.is_dir(), path.exists() or path.is_symlink()
        except OSError as exc:  # a name the file system cannot hold (too long, ...)
            if exc.errno == errno.ENAMETOOLONG:
                size = len(os.fsencode(path.name))
                raise AvgenError(
                    f"output name {path.name[:40]}... is {size} bytes long, too long for this "
                    "file system with its sidecar's and temporary names; choose a shorter one."
                ) from None
            raise AvgenError(f"output {path} cannot be written: {exc.strerror or exc}.") from None
        if is_dir:
            raise AvgenError(f"output {path} is a folder; give a file name inside it.")
        if not overwrite and there:
            raise OutputExistsError(exists_message(path))
        out.append(path)
    return out


def publish(tmp: str | Path, path: str | Path, *, overwrite: bool) -> Path:
    """Move the finished file ``tmp`` to ``path`` in one step (see the module docstring)."""
    tmp, path = Path(tmp), Path(path)
    if overwrite:
        os.replace(tmp, path)
        return path
    try:
        os.link(tmp, path)
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise OutputExistsError(
            f"output {path} appeared while this one was being written (another writer made it "
            "first); pass --overwrite (overwrite=True in the API) to replace it, or choose "
            "another name."
        ) from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        _publish_without_links(tmp, path)
        return path
    tmp.unlink()
    return path


def _publish_without_links(tmp: Path, path: Path) -> None:
    """Claim ``path`` with an exclusive create (fails if it exists), then replace the claim."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise OutputExistsError(exists_message(path)) from None
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path``; publish it on success, delete it on error."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        yield tmp
        publish(tmp, path, overwrite=overwrite)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield a fresh, uniquely named temporary folder beside ``path`` (removed on error); the
    caller moves its files into place."""
    tmp = temp_path(Path(path))
    tmp.mkdir(parents=True)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def json_text(value: Any, *, what: str = "this record", **options: Any) -> str:
    """``value`` as standard JSON text and a newline; AvgenError for NaN or infinity."""
    try:
        return json.dumps(value, allow_nan=False, **options) + "\n"
    except ValueError as exc:
        raise AvgenError(
            f"cannot write {what} as standard JSON: it holds a NaN or infinite number ({exc})."
        ) from exc


def write_text(path: str | Path, text: str, *, overwrite: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a unique temporary file."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(
    path: str | Path,
    value: Any,
    *,
    overwrite: bool = True,
    indent: int | None = 2,
    default: Callable[[Any], Any] | None = None,
    sort_keys: bool = False,
) -> Path:
    """Write ``value`` as standard JSON (no NaN / Infinity) to ``path``, atomically."""
    path = Path(path)
    text = json_text(value, what=str(path), indent=indent, default=default, sort_keys=sort_keys)
    return write_text(path, text, overwrite=overwrite)


def leftover_temps(folder: str | Path) -> list[Path]:
    """Temporary files ``temp_path`` made in ``folder`` that are still there."""
    return sorted(p for p in Path(folder).iterdir() if is_temp_name(p.name))
