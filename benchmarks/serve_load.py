"""Load test of ``avgen serve``: N concurrent submissions against a real uvicorn server.

Each submission is a client thread with its own prompt and seed. It either gets 201 and then
follows its job to the end, or gets 429 with a Retry-After header. A watcher calls
``/api/health`` every 100 ms throughout. Afterwards every accepted job must be done and its
sidecar must carry its own prompt and seed (none lost, none mixed up), and the files of two
jobs must differ. Latencies: submit (the POST), end to end (POST until the job is done, for the
accepted ones) and health, as p50 / p95 / max.

    PYTHONPATH=. python benchmarks/serve_load.py [--clients 50] [--max-queue 16] [--workers 1]
        [--shipped] [--out benchmarks/results/serve.md]

By default the server offers tiny random-weight models (tests/serve/helpers.py), which measures
the server and not the models; ``--shipped`` generates with the shipped models instead.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "serve"))
from helpers import LiveServer, tiny_audio_model, tiny_video_model  # noqa: E402


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    a = np.asarray(values) * 1000.0  # ms
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "max": float(a.max()), "n": len(values)}  # fmt: skip


def warm_up(url: str, names: tuple[str, str], timeout: float = 300.0) -> None:
    """One audio and one video job first, so the models are loaded before the clock runs."""
    for kind, name in zip(("audio", "video"), names):
        body = {"kind": kind, "prompt": "warm up", "model": name}
        job_id = requests.post(f"{url}/api/jobs", json=body, timeout=60).json()["id"]
        deadline = time.time() + timeout
        while requests.get(f"{url}/api/jobs/{job_id}", timeout=60).json()["status"] != "done":
            if time.time() > deadline:
                raise TimeoutError("the warm-up job did not finish")
            time.sleep(0.1)
        requests.delete(f"{url}/api/jobs/{job_id}", timeout=60)


def run_load(url: str, clients: int, names: tuple[str, str], timeout: float = 300.0) -> dict:
    """``clients`` concurrent submissions (audio and video alternately); the findings."""
    start = threading.Barrier(clients + 1)
    outcomes: list[dict[str, Any]] = [{} for _ in range(clients)]
    health: list[float] = []
    health_failures: list[str] = []
    stop = threading.Event()

    def client(i: int) -> None:
        kind = "audio" if i % 2 == 0 else "video"
        body = {"kind": kind, "prompt": f"load test job {i}: a bell and a ball", "seed": 1000 + i,
                "model": names[0] if kind == "audio" else names[1]}  # fmt: skip
        record = outcomes[i]
        record.update(kind=kind, prompt=body["prompt"], seed=body["seed"])
        start.wait()
        t0 = time.perf_counter()
        try:
            answer = requests.post(f"{url}/api/jobs", json=body, timeout=60)
        except requests.RequestException as exc:
            record["code"] = f"error: {exc.__class__.__name__}"
            return
        record["submit_s"] = time.perf_counter() - t0
        record["code"] = answer.status_code
        if answer.status_code == 429:
            record["retry_after"] = answer.headers.get("Retry-After")
            return
        if answer.status_code != 201:
            record["detail"] = answer.text[:200]
            return
        job_id = answer.json()["id"]
        record["id"] = job_id
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = requests.get(f"{url}/api/jobs/{job_id}", timeout=60).json()
            if status["status"] in ("done", "failed", "cancelled"):
                record["end_s"] = time.perf_counter() - t0
                record["status"] = status["status"]
                record["error"] = status["error"]
                if status["status"] == "done":
                    side = requests.get(url + status["result"]["sidecar"], timeout=60).json()
                    record["sidecar"] = (side["prompt"], side["seed"], side["command"])
                    data = requests.get(url + status["result"]["file"], timeout=60).content
                    record["sha"] = hashlib.sha256(data).hexdigest()
                return
            time.sleep(0.1)
        record["status"] = "timeout"

    def watcher() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                ok = requests.get(f"{url}/api/health", timeout=10).status_code == 200
            except requests.RequestException as exc:
                ok = False
                health_failures.append(exc.__class__.__name__)
            if ok:
                health.append(time.perf_counter() - t0)
            else:
                health_failures.append("not 200")
            time.sleep(0.1)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    watch = threading.Thread(target=watcher)
    for t in threads:
        t.start()
    watch.start()
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    stop.set()
    watch.join()
    listed = {j["id"] for j in requests.get(f"{url}/api/jobs?limit=500", timeout=60).json()["jobs"]}
    accepted = [o for o in outcomes if o.get("code") == 201]
    rejected = [o for o in outcomes if o.get("code") == 429]
    mixed = [o for o in accepted
             if o.get("sidecar") != (o["prompt"], o["seed"], o["kind"])]  # fmt: skip
    return {
        "clients": clients,
        "accepted": len(accepted),
        "rejected_429": len(rejected),
        "retry_after_missing": sum(1 for o in rejected if not o.get("retry_after")),
        "other_codes": sorted({str(o.get("code")) for o in outcomes} - {"201", "429"}),
        "done": sum(1 for o in accepted if o.get("status") == "done"),
        "not_done": [
            (o.get("id"), o.get("status"), o.get("error"))
            for o in accepted
            if o.get("status") != "done"
        ],  # fmt: skip
        "lost": [o["id"] for o in accepted if o["id"] not in listed],
        "mixed_up": [o["id"] for o in mixed],
        "distinct_files": len({o.get("sha") for o in accepted if o.get("sha")}),
        "submit_ms": _percentiles([o["submit_s"] for o in outcomes if "submit_s" in o]),
        "end_to_end_ms": _percentiles([o["end_s"] for o in accepted if "end_s" in o]),
        "health_ms": _percentiles(health),
        "health_failures": len(health_failures),
        "wall_s": wall,
    }


def check(findings: dict) -> list[str]:
    """What went wrong (empty: every submission completed or got 429, nothing lost or mixed)."""
    problems = []
    if findings["accepted"] + findings["rejected_429"] != findings["clients"]:
        problems.append(f"answers other than 201 / 429: {findings['other_codes']}")
    if findings["not_done"]:
        problems.append(f"accepted jobs that did not finish: {findings['not_done']}")
    for key in ("lost", "mixed_up"):
        if findings[key]:
            problems.append(f"{key}: {findings[key]}")
    if findings["retry_after_missing"]:
        problems.append("429 answers without Retry-After")
    if findings["distinct_files"] != findings["done"]:
        problems.append("two jobs wrote the same file")
    if findings["health_failures"] or not findings["health_ms"]["n"]:
        problems.append(f"health failed {findings['health_failures']} times")
    return problems


def _row(name: str, p: dict) -> str:
    if not p["n"]:
        return f"| {name} | 0 | - | - | - |"
    return f"| {name} | {p['n']} | {p['p50']:.0f} | {p['p95']:.0f} | {p['max']:.0f} |"


def report(findings: dict, command: str, setup: str) -> str:
    f = findings
    lines = [
        "# `avgen serve` under load",
        "",
        f"Command: `{command}`",
        "",
        f"Setup: {setup}",
        "",
        f"{f['clients']} clients submitted at once: {f['accepted']} accepted (201), "
        f"{f['rejected_429']} refused with 429 + Retry-After; {f['done']} of the accepted jobs "
        f"done, {len(f['not_done'])} not; lost: {len(f['lost'])}; mixed up (sidecar prompt, seed "
        f"or kind not the client's own): {len(f['mixed_up'])}; distinct result files: "
        f"{f['distinct_files']}. Health answered {f['health_ms']['n']} times during the run, "
        f"failed {f['health_failures']} times. Wall time {f['wall_s']:.1f} s.",
        "",
        "| latency (ms) | n | p50 | p95 | max |",
        "|---|---|---|---|---|",
        _row("submit (POST /api/jobs)", f["submit_ms"]),
        _row("end to end (accepted jobs, POST to done)", f["end_to_end_ms"]),
        _row("GET /api/health during the run", f["health_ms"]),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--max-queue", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--shipped", action="store_true", help="the shipped models")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.shipped:
            models, names = [], ("default", "default")
        else:
            models = [
                f"tiny={tiny_audio_model(root / 'a')}",
                f"tinyv={tiny_video_model(root / 'v')}",
            ]
            names = ("tiny", "tinyv")
        with LiveServer(root / "results", models, max_queue=args.max_queue,
                        workers=args.workers) as server:  # fmt: skip
            warm_up(server.url, names)
            findings = run_load(server.url, args.clients, names)
    problems = check(findings)
    command = "PYTHONPATH=. python benchmarks/serve_load.py " + " ".join(sys.argv[1:])
    which = "the shipped models" if args.shipped else "tiny random-weight models (2 steps)"
    setup = (f"one server (uvicorn, in-process), {args.workers} worker(s), --max-queue "
             f"{args.max_queue}, {which}, torch on 1 thread; {platform.machine()}, "
             f"{__import__('os').cpu_count()} CPU cores; audio and video jobs alternate; one audio "
             "and one video job ran first to load the models.")  # fmt: skip
    text = report(findings, command.strip(), setup)
    text += "\nProblems: " + ("none" if not problems else "; ".join(problems)) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
