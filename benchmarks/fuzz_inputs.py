"""The fuzz targets of tests/test_fuzz.py, run long: >= 10,000 generated inputs each.

    OMP_NUM_THREADS=1 python benchmarks/fuzz_inputs.py [--examples 10000] [--targets parser ...]
        [--out benchmarks/results/hardening_inputs.md]
    python benchmarks/fuzz_inputs.py --timing 100000 [--tree DIR]  # parse / lint seconds

Each target (the parser, the linter, the builders, the API's checks, the sidecar reader with
``rerun`` checking but never generating) runs under the suite's seeded settings with
``max_examples`` raised. Per target it records the inputs run, the calls made, the failures
found (Hypothesis stops at the first distinct failures and shrinks them) and the wall time,
and prints a Markdown table (appended to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load_targets(examples: int) -> object:
    """tests/test_fuzz.py with ``examples`` inputs per target (read when it is imported)."""
    os.environ["AVGEN_FUZZ_EXAMPLES"] = str(examples)
    from tests import test_fuzz

    return test_fuzz


TARGETS = ("parser", "linter", "builders", "api checks", "sidecar reader")


def run_target(fuzz: Any, name: str) -> dict[str, object]:
    test = getattr(fuzz, f"test_{name.replace(' ', '_')}")
    kwargs = {"no_generation": None} if name == "sidecar reader" else {}
    patch = fuzz.checking_only() if name == "sidecar reader" else None
    failure = ""
    start = time.perf_counter()
    try:
        test(**kwargs)
    except Exception as exc:  # a failure Hypothesis found (and shrank): recorded, not raised
        failure = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    finally:
        if patch is not None:
            patch.undo()
    return {
        "target": name,
        "inputs": fuzz.INPUTS.get(name, 0),
        "calls": fuzz.CALLS.get(name, 0),
        "failures": failure or "none",
        "seconds": round(time.perf_counter() - start, 1),
    }


def long_prompt_times(most: int = 100_000) -> list[str]:
    """Markdown rows: seconds to parse and to lint prompts of words shared by both sides (the
    ones that were quadratic), up to ``most`` characters."""
    from avgen.prompts import lint_prompt, parse_prompt

    rows = []
    for piece, n in (
        ("dark ", 2000),
        ("fast rising ", 1000),
        ("dark ", 20000),
        ("fast rising ", 8000),
    ):
        text = piece * n
        if len(text) > most:
            continue
        start = time.perf_counter()
        parse_prompt(text)
        parsed = time.perf_counter() - start
        start = time.perf_counter()
        lint_prompt(text)
        linted = time.perf_counter() - start
        rows.append(f"| {piece.strip()!r} x {n} | {len(text)} | {parsed:.2f} | {linted:.2f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--targets", nargs="+", choices=sorted(TARGETS), default=list(TARGETS))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--timing", type=int, default=None, metavar="MOST",
        help="only time parse and lint of long prompts up to MOST characters",
    )  # fmt: skip
    parser.add_argument("--tree", type=Path, default=None, help="time the avgen of this tree")
    args = parser.parse_args(argv)
    if args.timing is not None:
        if args.tree is not None:
            sys.path.insert(0, str(args.tree))
        print("| prompt | characters | parse (s) | lint (s) |\n|---|---:|---:|---:|")
        print("\n".join(long_prompt_times(args.timing)))
        return 0
    rows = []
    fuzz = _load_targets(args.examples)
    for name in args.targets:
        rows.append(run_target(fuzz, name))
        print(rows[-1], flush=True)
    table = [
        f"max_examples {args.examples}, seeded (derandomize); Python {platform.python_version()}",
        "",
        "| target | inputs | calls | failures found | wall time (s) |",
        "|---|---:|---:|---|---:|",
    ]
    table += [
        f"| {r['target']} | {r['inputs']} | {r['calls']} | {r['failures']} | {r['seconds']} |"
        for r in rows
    ]
    text = "\n".join(table) + "\n"
    print(text)
    if args.out is not None:
        with open(args.out, "a", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0 if all(r["failures"] == "none" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
