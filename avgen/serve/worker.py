"""The job runner: worker threads that take queued jobs in order and run them through
``avgen.api`` with a progress callback (which also stops a cancelled job).

Progress lives in memory (step, total, the time of the first step); the state of every job
lives in the SQLite store, so a restart finds finished results, runs queued jobs and marks the
jobs that were running failed with the reason.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from avgen import api
from avgen.errors import AvgenError
from avgen.serve.models import ModelRegistry
from avgen.serve.schema import AUDIO_ONLY, VIDEO_ONLY
from avgen.serve.store import CANCELLED, DONE, FAILED, JobStore

SUFFIX = {"audio": ".wav", "video": ".mp4"}


class Cancelled(Exception):
    """Raised by the progress callback of a job whose cancel was requested."""


class _Progress:
    __slots__ = ("step", "total", "first", "last", "cancel")

    def __init__(self) -> None:
        self.step = 0
        self.total = 0
        self.first: float | None = None  # time of the first step report
        self.last: float | None = None
        self.cancel = False


class JobRunner:
    """``workers`` threads over one in-memory queue of job ids; the store is the truth."""

    def __init__(self, store: JobStore, results_dir: Path, registry: ModelRegistry,
                 workers: int = 1, device: str = "cpu") -> None:  # fmt: skip
        self.store = store
        self.results_dir = Path(results_dir)
        self.registry = registry
        self.workers = workers
        self.device = device
        self._queue: queue.Queue[str] = queue.Queue()
        self._progress: dict[str, _Progress] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        for job_id in self.store.recover():
            self._queue.put(job_id)
        for k in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"avgen-worker-{k}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs; a running job is stopped at its next step and marked failed."""
        self._stop.set()
        with self._lock:
            for progress in self._progress.values():
                progress.cancel = True
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def job_dir(self, job_id: str) -> Path:
        return self.results_dir / job_id

    def enqueue(self, job_id: str) -> None:
        self._queue.put(job_id)

    # ------------------------------------------------------------------ progress, cancel

    def progress(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            p = self._progress.get(job_id)
            if p is None:
                return {"step": 0, "total": 0, "eta_s": None, "elapsed_s": None}
            step, total, first, last, cancel = p.step, p.total, p.first, p.last, p.cancel
        now = time.time()
        eta = None
        if first is not None and last is not None and step > 1 and total:
            eta = round((last - first) / (step - 1) * (total - step), 2)
        elapsed = None if first is None else round(now - first, 2)
        return {"step": step, "total": total, "eta_s": eta, "elapsed_s": elapsed,
                "cancel": cancel}  # fmt: skip

    def request_cancel(self, job_id: str) -> bool:
        """Ask a running job to stop at its next step; False when it is not running here."""
        with self._lock:
            p = self._progress.get(job_id)
            if p is None:
                return False
            p.cancel = True
            return True

    def _report(self, job_id: str) -> Any:
        def report(step: int, total: int) -> None:
            now = time.time()
            with self._lock:
                p = self._progress[job_id]
                if p.cancel:
                    raise Cancelled()
                p.step, p.total, p.last = int(step), int(total), now
                if p.first is None:
                    p.first = now

        return report

    # ------------------------------------------------------------------ the loop

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job_id = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if self._stop.is_set():
                break
            with self._lock:
                self._progress[job_id] = _Progress()
            try:
                if self.store.claim(job_id):
                    self._run(job_id)
            finally:
                with self._lock:
                    self._progress.pop(job_id, None)

    def _run(self, job_id: str) -> None:
        job = self.store.get(job_id)
        if job is None:  # deleted meanwhile
            return
        out = self.job_dir(job_id) / f"{job['kind']}{SUFFIX[job['kind']]}"
        try:
            kwargs = self.call_arguments(job)
            generate = api.text_to_audio if job["kind"] == "audio" else api.text_to_video
            prompt = job["settings"]["prompt"]
            generate(prompt, out, quiet=True, progress=self._report(job_id), **kwargs)
        except Cancelled:
            stopping = self._stop.is_set()
            self.store.update(
                job_id,
                status=FAILED if stopping else CANCELLED,
                finished=time.time(),
                error="the server stopped while this job was running; submit it again."
                if stopping
                else "cancelled while running.",
            )
            return
        except AvgenError as exc:
            self.store.update(job_id, status=FAILED, finished=time.time(), error=str(exc))
            return
        except Exception as exc:  # a bug: keep the server up, say what happened
            traceback.print_exc()
            error = f"internal error ({exc.__class__.__name__}: {exc})."
            self.store.update(job_id, status=FAILED, finished=time.time(), error=error)
            return
        p = self.progress(job_id)
        self.store.update(job_id, status=DONE, finished=time.time(), output=out.name,
                          step=p["step"], total=p["total"])  # fmt: skip

    def call_arguments(self, job: dict[str, Any]) -> dict[str, Any]:
        """The ``avgen.api`` keyword arguments of a stored job: names become folders here, the
        uploads become the files saved under the job's folder."""
        settings = dict(job["settings"])
        kind = job["kind"]
        kwargs: dict[str, Any] = {"device": self.device}
        for key in ("negative_prompt", "seed", "num_inference_steps", "guidance_scale",
                    "preview"):  # fmt: skip
            if settings.get(key) is not None:
                kwargs[key] = settings[key]
        own = AUDIO_ONLY if kind == "audio" else VIDEO_ONLY
        for key in own:
            if key in ("lora",) or settings.get(key) is None:
                continue
            kwargs[key] = tuple(settings[key]) if key == "inpaint" else settings[key]
        entry = self.registry.get(kind, settings.get("model") or self.registry.default(kind))
        if entry.folder is not None:
            kwargs["model"] = str(entry.folder)
        if kind == "audio" and settings.get("lora"):
            kwargs["lora"] = str(self.registry.get("adapter", settings["lora"]).folder)
        for field, name in job["inputs"].items():
            kwargs[field] = str(self.job_dir(job["id"]) / "inputs" / name)
        return kwargs

    def delete_files(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
