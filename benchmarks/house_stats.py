"""How easy the tree is to live in: files over 600 lines, functions over 80 lines, test count.

    python benchmarks/house_stats.py [ROOT]

Counts every ``*.py`` under ``avgen/`` (lines as ``wc -l`` counts them; functions and methods by
their ``ast`` span, decorators included) and the tests pytest collects. Repeated blocks are
counted separately with a duplicate finder; the suite's wall time with ``time make test``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


def long_files(root: Path, limit: int = 600) -> list[tuple[str, int]]:
    rows = []
    for path in sorted((root / "avgen").rglob("*.py")):
        n = len(path.read_text().splitlines())
        if n > limit:
            rows.append((str(path.relative_to(root)), n))
    return sorted(rows, key=lambda r: -r[1])


def long_functions(root: Path, limit: int = 80) -> list[tuple[str, int]]:
    rows = []
    for path in sorted((root / "avgen").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                n = node.end_lineno - first + 1
                if n > limit:
                    rows.append((f"{path.relative_to(root)}:{node.name}", n))
    return sorted(rows, key=lambda r: -r[1])


def test_count(root: Path) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    # with the project's addopts (-q) and this -q, pytest prints "tests/x.py: N" per file
    total = 0
    for line in out.splitlines():
        name, _, count = line.rpartition(": ")
        if name.endswith(".py") and count.strip().isdigit():
            total += int(count)
    return total


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    files, funcs = long_files(root), long_functions(root)
    print(f"files over 600 lines: {len(files)}")
    for name, n in files:
        print(f"  {n:5d}  {name}")
    print(f"functions over 80 lines: {len(funcs)}")
    for name, n in funcs:
        print(f"  {n:5d}  {name}")
    print(f"tests: {test_count(root)}")


if __name__ == "__main__":
    main()
