"""Are MP4 bytes the same run to run and on any CPU count? And what does writing one cost?

Each run is a fresh process that writes the same seeded clip with ``avgen.media.write_mp4``
(256x256, 32 frames at 8 fps: the shipped video model's 4 s upscaled, plus AAC audio) with its
CPU affinity set to one core or to all; it reports the file's SHA-256 and the write time.
Runs against whichever avgen is on PYTHONPATH (before / after a change).

    PYTHONPATH=$PWD python benchmarks/mp4_bytes.py --runs 6
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import hashlib, json, os, sys, time
import numpy as np
from avgen.media import write_mp4
os.sched_setaffinity(0, {int(c) for c in sys.argv[2].split(",")})
rng = np.random.default_rng(0)
base = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
frames = np.stack([np.roll(base, 2 * i, axis=1) for i in range(32)])  # a moving texture
frames = frames.repeat(4, axis=1).repeat(4, axis=2)  # (32, 256, 256, 3)
audio = rng.standard_normal(64000).astype(np.float32) * 0.1
start = time.perf_counter()
write_mp4(sys.argv[1], frames, 8, audio=audio, sr=16000)
took = time.perf_counter() - start
digest = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:16]
print(json.dumps({"sha": digest, "s": took}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=6, help="runs per CPU setting")
    args = ap.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    settings = {"1 core": cores[:1], f"{len(cores)} cores": cores}
    hashes: dict[str, collections.Counter[str]] = {}
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, allowed in settings.items():
            hashes[name], times[name] = collections.Counter(), []
            for i in range(args.runs):
                out = os.path.join(folder, f"{i}.mp4")
                cmd = [sys.executable, "-c", CHILD, out, ",".join(map(str, allowed))]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                row = json.loads(done.stdout.strip().splitlines()[-1])
                hashes[name][row["sha"]] += 1
                times[name].append(row["s"])
    everything = collections.Counter()
    for counter in hashes.values():
        everything.update(counter)
    for name in settings:
        print(
            f"{name}: {args.runs} runs, distinct files {len(hashes[name])} "
            f"{dict(hashes[name])}, write median {statistics.median(times[name]):.3f} s"
        )
    print(f"all settings together: {len(everything)} distinct file(s)")


if __name__ == "__main__":
    main()
