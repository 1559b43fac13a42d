"""Every document the repository names is in the repository.

A tracked Markdown, Python, TOML file or the Makefile that names a ``*.md`` document the tree
does not hold (a bare name no tracked file has, or a path that resolves neither from the root
nor from the naming file's folder), a notes file known only outside the repository, or any
``../shared/`` path fails this test: a user who clones the repository must be able to follow
every pointer.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = (".md", ".py", ".toml")
# A Markdown name or path: letters, digits, "_", "-", "." and "/" before ".md".
MD_NAME = re.compile(r"(?<![\w./-])((?:\.{1,2}/)?[\w][\w./-]*\.md)\b")
# Documents that were named without their extension (working notes kept outside the repository).
OUTSIDE_NAMES = re.compile(r"\bTRAINING-NOTES\b")
OUTSIDE_PATH = re.compile(r"\.\./shared/[\w./-]*")


def tracked_files(root: Path) -> list[Path]:
    """Tracked files whose text may name a document (``git ls-files``)."""
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    names = [n for n in out.split("\0") if n]
    keep = [n for n in names if n.endswith(SUFFIXES) or Path(n).name == "Makefile"]
    return [root / n for n in keep if (root / n).is_file()]


def git_ignored(root: Path, name: str) -> bool:
    """``name`` lies where git ignores files: an output a command writes (``runs/x.md``)."""
    done = subprocess.run(["git", "check-ignore", "-q", name], cwd=root, check=False)
    return done.returncode == 0


def missing_documents(
    text: str,
    here: Path,
    root: Path,
    basenames: set[str],
    ignored: Callable[[str], bool] = lambda name: False,
) -> list[str]:
    """Names in ``text`` (a file in folder ``here``) of documents the tree at ``root`` lacks.

    A path the repository ignores (``ignored``) names a command's output, not a document.
    """
    missing: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        found = [m.group(0) for m in OUTSIDE_PATH.finditer(line)]
        found += [m.group(0) for m in OUTSIDE_NAMES.finditer(line)]
        for match in MD_NAME.finditer(line):
            name = match.group(1)
            if name.startswith("../shared/"):
                continue  # reported whole above
            if "/" in name:
                exists = (root / name).exists() or (here / name).exists() or ignored(name)
            else:
                exists = name in basenames
            if not exists:
                found.append(name)
        missing += [f"{lineno}: {name}" for name in dict.fromkeys(found)]
    return missing


def test_finder_flags_outside_and_missing_documents(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ARCH.md").write_text("x")
    text = (
        "See docs/ARCH.md and ARCH.md.\n"  # present, by path and by name
        "See ../shared/NOTES.md, WORLD.md and docs/GONE.md.\n"
        "as TRAINING-NOTES predicts; CONTRACT.md section 1\n"
    )
    found = missing_documents(text, tmp_path, tmp_path, {"ARCH.md"})
    assert found == [
        "2: ../shared/NOTES.md",
        "2: WORLD.md",
        "2: docs/GONE.md",
        "3: TRAINING-NOTES",
        "3: CONTRACT.md",
    ]
    assert missing_documents("see ARCH.md (here)", tmp_path, tmp_path, {"ARCH.md"}) == []
    written = "python bench.py --out runs/report.md"  # an output path, not a document
    assert missing_documents(written, tmp_path, tmp_path, set()) == ["1: runs/report.md"]
    assert missing_documents(written, tmp_path, tmp_path, set(), lambda n: n[:5] == "runs/") == []


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout"
)
def test_every_named_document_is_in_the_repository() -> None:
    files = tracked_files(ROOT)
    basenames = {p.name for p in files}

    def ignored(name: str) -> bool:
        return git_ignored(ROOT, name)

    problems = []
    for path in files:
        if path == Path(__file__).resolve():
            continue  # this file names the outside documents on purpose
        text = path.read_text(encoding="utf-8", errors="replace")
        for hit in missing_documents(text, path.parent, ROOT, basenames, ignored):
            problems.append(f"{path.relative_to(ROOT)}:{hit}")
    assert not problems, "documents named but not in the repository:\n" + "\n".join(problems)
