"""Concurrent writers of avgen outputs: how many collide, fail or silently replace each other.

Scenarios (each round starts ``--writers`` processes together on a barrier):

- ``sidecar_same``: every writer writes the sidecar of the same output (``write_sidecar``,
  its default overwrite). Counts exceptions other than AvgenError (a fixed temporary name
  makes one writer rename away another's temporary file: FileNotFoundError).
- ``sidecar_different``: every writer writes ``--repeat`` sidecars of its own outputs into one
  folder (a stress test of unique temporary names).
- ``output_same``: every writer writes a WAV to the same path the way a generating command
  does (``overwrite=False`` where the code has it). Counts successes: with the overwrite
  policy exactly one writer succeeds and the others get AvgenError; without it every writer
  "succeeds" and all but one result are silently replaced.
- ``cli_same`` (``--cli-rounds``): two ``avgen audio ... -o C.wav`` processes at once.

Every round also counts temporary files left in the folder. Runs against whichever avgen is
on PYTHONPATH, so the same script measures the code before and after a change.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python benchmarks/concurrent_outputs.py \
        --writers 20 --rounds 10 --repeat 20 --cli-rounds 3
"""

from __future__ import annotations

import argparse
import collections
import inspect
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _kwargs_for(function: Any, **wanted: Any) -> dict[str, Any]:
    """The keyword arguments of ``wanted`` that ``function`` accepts (old code lacks some)."""
    params = inspect.signature(function).parameters
    return {k: v for k, v in wanted.items() if k in params}


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    from avgen.errors import AvgenError

    return "avgen_error" if isinstance(exc, AvgenError) else f"other:{type(exc).__name__}"


def _worker(scenario: str, folder: str, index: int, repeat: int, barrier: Any, queue: Any) -> None:
    import numpy as np

    from avgen import media, sidecar

    results = []
    barrier.wait()
    for k in range(repeat if scenario == "sidecar_different" else 1):
        try:
            if scenario == "sidecar_same":
                sidecar.write_sidecar(
                    Path(folder) / "same.wav", command="audio", prompt=f"writer {index}",
                    seed=index, settings={"i": index}, model_id="bench",
                )  # fmt: skip
            elif scenario == "sidecar_different":
                sidecar.write_sidecar(
                    Path(folder) / f"w{index}_{k}.wav", command="audio", prompt="p",
                    seed=index, settings={"i": index, "k": k}, model_id="bench",
                )  # fmt: skip
            else:
                wave = np.full(1600, (index + 1) / 100, dtype=np.float32)
                extra = _kwargs_for(media.write_audio, overwrite=False)
                media.write_audio(Path(folder) / "same.wav", wave, 16000, **extra)
            results.append(_outcome(None))
        except BaseException as exc:  # noqa: BLE001 - counting every kind is the point
            results.append(_outcome(exc))
    queue.put(results)


def run_scenario(scenario: str, writers: int, rounds: int, repeat: int) -> dict[str, Any]:
    import numpy  # noqa: F401 - imported once here, shared by the forked writers

    from avgen import media, sidecar  # noqa: F401

    ctx = mp.get_context("fork")
    counts: collections.Counter[str] = collections.Counter()
    leftovers = intact = 0
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            barrier, queue = ctx.Barrier(writers), ctx.Queue()
            procs = [
                ctx.Process(target=_worker, args=(scenario, folder, i, repeat, barrier, queue))
                for i in range(writers)
            ]
            for p in procs:
                p.start()
            for _ in procs:
                counts.update(queue.get(timeout=120))
            for p in procs:
                p.join()
            names = os.listdir(folder)
            leftovers += sum(1 for n in names if n.startswith(".") and "tmp" in n)
            if scenario == "sidecar_same":
                record = json.loads((Path(folder) / "same.wav.json").read_text())
                intact += record["settings"] == {"i": record["seed"]}
            elif scenario == "output_same":
                import soundfile as sf

                data, _ = sf.read(Path(folder) / "same.wav")
                intact += len(set(data.round(4).tolist())) == 1
            else:
                expected = {f"w{i}_{k}.wav.json" for i in range(writers) for k in range(repeat)}
                intact += expected <= set(names)
    return {
        "writers": writers,
        "rounds": rounds,
        "writes": sum(counts.values()),
        "outcomes": dict(sorted(counts.items())),
        "leftover_temp_files": leftovers,
        "rounds_with_an_intact_result": intact,
    }


def run_cli(rounds: int) -> dict[str, Any]:
    """Two `avgen audio` processes writing the same -o at once: their exit codes."""
    codes: collections.Counter[str] = collections.Counter()
    leftovers = 0
    cmd = [sys.executable, "-m", "avgen.cli", "audio", "a bell ringing", "--steps", "2"]
    cmd += ["--duration", "1", "--quiet", "--candidates", "1"]
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            out = str(Path(folder) / "C.wav")
            procs = [
                subprocess.Popen(
                    cmd + ["--seed", str(i), "-o", out],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                for i in range(2)
            ]
            done = sorted((p.wait(timeout=600), p.stderr.read().decode().strip()) for p in procs)
            codes[" + ".join(f"exit {c}" for c, _ in done)] += 1
            for c, err in done:
                if c not in (0, 2) or "Traceback" in err:
                    codes[f"unexpected: {err[-200:]}"] += 1
            leftovers += sum(1 for n in os.listdir(folder) if n.startswith("."))
    return {"rounds": rounds, "exit_codes": dict(codes), "leftover_temp_files": leftovers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=20, help="sidecars per writer (different)")
    ap.add_argument("--cli-rounds", type=int, default=0)
    args = ap.parse_args()
    started = time.time()
    result: dict[str, Any] = {}
    for scenario in ("sidecar_same", "sidecar_different", "output_same"):
        result[scenario] = run_scenario(scenario, args.writers, args.rounds, args.repeat)
        print(scenario, json.dumps(result[scenario]), flush=True)
    if args.cli_rounds:
        result["cli_same"] = run_cli(args.cli_rounds)
        print("cli_same", json.dumps(result["cli_same"]), flush=True)
    print(f"wall {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
