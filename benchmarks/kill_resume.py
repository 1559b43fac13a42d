"""Kill avgen's trainers with SIGKILL at random moments, resume them, and check the result.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/kill_resume.py \
        [--kills 3] [--seed 0] [--work DIR] [--out benchmarks/results/hardening_resume.md]

Several tiny runs (the audio, video and LoRA trainers, various ``--checkpoint-every``) are each
trained once uninterrupted, then again with ``--kills`` SIGKILLs, each followed by a rerun of
the same command (a resume): the first lands in the middle of a checkpoint write (half the
temporary file on disk; ``tests/train/killrun.py --kill C:S:save``), the others come from
outside at a random moment of what is left of the run (uniform over the uninterrupted run's
remaining time) once the rerun has logged a step. After every
kill the script records where it landed (the last logged step, the checkpoints, a temporary
checkpoint left behind) and loads every checkpoint in the run folder; at the end it compares
every tensor of the final weights with the uninterrupted run's (``torch.equal``) and the loss
logs (times aside). Results are written as Markdown to ``--out`` (and JSON next to it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "train"))
import killrun  # noqa: E402

from avgen.errors import AvgenError  # noqa: E402
from avgen.train.common import Checkpointer  # noqa: E402

COMPONENTS = {"audio": ("vae", "vocoder", "clap", "denoiser"), "video": ("vae", "dit")}
# (trainer, steps per component, --checkpoint-every)
RUNS = [
    ("audio", 6, 2),
    ("video", 12, 1),
    ("lora", 12, 3),
    ("video", 10, 4),
    ("audio", 5, 1),
]


def args_for(trainer: str, inputs: dict[str, Path], out: Path, steps: int, every: int) -> list:
    common = ["--out", str(out), "--quiet", "--batch-size", "2", "--log-every", "1",
              "--checkpoint-every", str(every), "--steps", str(steps)]  # fmt: skip
    if trainer == "audio":
        return [*common, "--data", str(inputs["audio"]), "--tiny", "--seconds", "1"]
    if trainer == "video":
        return [*common, "--data", str(inputs["video"]), "--tiny", "--num-frames", "9"]
    return [*common, "--data", str(inputs["audio"]), "--base", str(inputs["base"]),
            "--seconds", "1", "--rank", "2", "--lr", "1e-2"]  # fmt: skip


def log_rows(out: Path) -> list[dict]:
    path = out / "train_log.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            rows.append({"torn": True})
    return rows


def step_rows(out: Path) -> list[dict]:
    return [r for r in log_rows(out) if "total" in r]


def comparable(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("time", "elapsed_s")} for r in rows]


def landing(out: Path) -> dict:
    """Where a kill left the run folder: last logged step, checkpoints, temporary files, and
    whether every checkpoint loads."""
    rows = step_rows(out)
    last = f"{rows[-1]['component']} step {rows[-1]['step']}" if rows else "no step logged"
    ckpts, temps, unreadable = [], [], []
    for folder in sorted((out / "checkpoints").glob("*")):
        if not folder.is_dir():
            continue
        temps += [f"{folder.name}/{p.name}" for p in folder.glob(".*.tmp")]
        for path in Checkpointer(folder).paths():
            ckpts.append(f"{folder.name}/{int(path.stem.split('_')[1])}")
            try:
                Checkpointer(folder).load(path)
            except AvgenError:
                unreadable.append(str(path.relative_to(out)))
    torn_log = any(r.get("torn") for r in log_rows(out))
    return {"last_logged": last, "checkpoints": ckpts, "temp_files": temps,
            "unreadable": unreadable, "torn_log_line": torn_log}  # fmt: skip


def timer_kill(trainer: str, args: list[str], delay: float, timeout: float = 600) -> dict:
    """Start the trainer, wait until it logs a new step, then SIGKILL it after ``delay`` s."""
    out = Path(args[args.index("--out") + 1])
    before = len(log_rows(out))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "tests" / "train" / "killrun.py"), trainer, "--", *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = time.time()
    while proc.poll() is None and len(log_rows(out)) <= before:
        if time.time() - started > timeout:
            break
        time.sleep(0.02)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return {"killed": killed, "rc": proc.returncode, "after_s": round(time.time() - started, 2)}


def one_run(
    number: int,
    trainer: str,
    steps: int,
    every: int,
    inputs: dict[str, Path],
    work: Path,
    rng: random.Random,
    kills: int,
) -> dict:
    ref = work / f"run{number}_{trainer}_whole"
    out = work / f"run{number}_{trainer}_killed"
    for folder in (ref, out):
        shutil.rmtree(folder, ignore_errors=True)
    t0 = time.time()
    assert killrun.run(trainer, args_for(trainer, inputs, ref, steps, every)) == 0
    whole_s = time.time() - t0
    ref_rows = step_rows(ref)
    args = args_for(trainer, inputs, out, steps, every)
    events = []
    # first: in the middle of a checkpoint write (random component and checkpoint)
    names = COMPONENTS.get(trainer, ("lora",))
    component = rng.choice(names)
    at = rng.choice(sorted({*range(every, steps + 1, every), steps}))
    t = time.time()
    rc = killrun.run(trainer, args, kill=f"{component}:{at}:save")
    events.append({"how": f"inside the write of checkpoint {component}/{at}",
                   "killed": rc == -signal.SIGKILL, "after_s": round(time.time() - t, 2),
                   **landing(out)})  # fmt: skip
    # then from outside, at a random moment of what is left once the rerun has logged a step
    # (the uninterrupted run's timeline from the step reached to its end)
    attempts = 0
    while sum(e["killed"] for e in events) < kills and attempts < 3 * kills:
        attempts += 1
        reached = min(len(step_rows(out)), len(ref_rows) - 1)
        left = ref_rows[-1]["time"] - ref_rows[reached]["time"]
        delay = round(rng.uniform(0.0, 0.9 * left), 2)
        result = timer_kill(trainer, args, delay)
        event = {"how": f"timer, {delay} s after the first new step", **result, **landing(out)}
        events.append(event)
        if not result["killed"]:
            break  # it finished first: the run is complete
    t1 = time.time()
    assert killrun.run(trainer, args) == 0  # the final resume
    diffs = killrun.differences(killrun.final_weights(ref), killrun.final_weights(out))
    return {
        "run": number,
        "trainer": trainer,
        "steps": steps,
        "checkpoint_every": every,
        "uninterrupted_s": round(whole_s, 1),
        "final_resume_s": round(time.time() - t1, 1),
        "tensors": len(killrun.final_weights(ref)),
        "bitwise_equal": not diffs,
        "differences": diffs[:5],
        "log_equal": comparable(step_rows(out)) == comparable(step_rows(ref)),
        "events": events,
    }


def report(runs: list[dict], command: str, elapsed: float) -> str:
    kills = [e for r in runs for e in r["events"] if e["killed"]]
    unreadable = [u for r in runs for e in r["events"] for u in e["unreadable"]]
    in_write = [e for e in kills if e["temp_files"]]
    lines = [
        "# Kill and resume: SIGKILL at random moments, then resume (issue 18, item 4)",
        "",
        "Command (2 shared CPU cores, one torch thread per process):",
        "",
        f"    {command}",
        "",
        f"{len(runs)} runs, {len(kills)} kills; {len(in_write)} left a temporary (half-written) "
        f"checkpoint behind; unreadable checkpoints after a kill: {len(unreadable)}; "
        f"runs whose final weights equal the uninterrupted run's bit for bit: "
        f"{sum(r['bitwise_equal'] for r in runs)} of {len(runs)}; loss logs equal (times "
        f"aside): {sum(r['log_equal'] for r in runs)} of {len(runs)}. Wall time "
        f"{elapsed / 60:.1f} min.",
        "",
        "Each run: tiny models, batch 2, a few steps per component on a tiny world data set; "
        "the first kill of a run comes inside a checkpoint write (`tests/train/killrun.py "
        "--kill C:S:save`: half the temporary file written, then SIGKILL), the others from "
        "outside at a random moment of what is left (uniform over the uninterrupted run's "
        "remaining time, counted from the rerun's first logged step). After each kill every "
        "checkpoint of the run folder is loaded, then the same command is rerun. A timer that "
        "fires after the rerun finished kills nothing and ends the run's kills.",
        "",
        "| run | trainer | steps | --checkpoint-every | kills | tensors | bitwise equal | "
        "loss log equal | uninterrupted s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        n = sum(e["killed"] for e in r["events"])
        lines.append(
            f"| {r['run']} | {r['trainer']} | {r['steps']} | {r['checkpoint_every']} | {n} | "
            f"{r['tensors']} | {'yes' if r['bitwise_equal'] else 'NO: ' + '; '.join(r['differences'])} | "  # noqa: E501
            f"{'yes' if r['log_equal'] else 'NO'} | {r['uninterrupted_s']} |"
        )
    lines += [
        "",
        "Where each kill landed (the run folder right after it):",
        "",
        "| run | kill | killed | s after start | last logged step | checkpoints on disk | "
        "temporary files | unreadable |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        for e in r["events"]:
            lines.append(
                f"| {r['run']} | {e['how']} | {'yes' if e['killed'] else 'no (finished first)'} "
                f"| {e.get('after_s', '-')} | {e['last_logged']} "
                f"| {', '.join(e['checkpoints']) or '-'} | "
                f"{', '.join(e['temp_files']) or '-'} | {', '.join(e['unreadable']) or 'none'} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=3, help="kills per run (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/hardening_resume.md")
    p.add_argument("--runs", type=int, default=len(RUNS), help="the first N runs only")
    a = p.parse_args()
    rng = random.Random(a.seed)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        inputs = {
            "audio": killrun.make_audio_data(work / "audio_data")
            if not (work / "audio_data").is_dir()
            else work / "audio_data",
            "video": killrun.make_video_data(work / "video_data")
            if not (work / "video_data").is_dir()
            else work / "video_data",
            "base": killrun.make_lora_base(work / "base"),
        }
        runs = []
        for number, (trainer, steps, every) in enumerate(RUNS[: a.runs], 1):
            r = one_run(number, trainer, steps, every, inputs, work, rng, a.kills)
            print(json.dumps({k: v for k, v in r.items() if k != "events"}), flush=True)
            runs.append(r)
    command = "PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/kill_resume.py " + " ".join(
        sys.argv[1:]
    )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(report(runs, command.strip(), time.time() - started))
    (a.out.with_suffix(".json")).write_text(json.dumps(runs, indent=1) + "\n")
    return 0 if all(r["bitwise_equal"] for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
