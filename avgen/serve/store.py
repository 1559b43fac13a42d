"""The job store: one SQLite file (``jobs.sqlite``) under the results folder.

Every job is one row: its settings as JSON, its state (queued, running, done, failed,
cancelled), its progress and its timestamps. The queue order is the row's insertion order, so
after a restart the queued jobs run in the order they came in.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINAL = (DONE, FAILED, CANCELLED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    settings TEXT NOT NULL,
    inputs TEXT NOT NULL,
    output TEXT,
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    step INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0
)
"""
_COLUMNS = ("status", "output", "error", "started", "finished", "step", "total")


class JobStore:
    """Thread-safe access to the jobs table (one connection, one lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @staticmethod
    def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
        if row is None:
            return None
        job = dict(row)
        job["settings"] = json.loads(job["settings"])
        job["inputs"] = json.loads(job["inputs"])
        return job

    def add(self, job_id: str, kind: str, settings: dict[str, Any], inputs: dict[str, str]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, kind, status, settings, inputs, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, kind, QUEUED, json.dumps(settings), json.dumps(inputs), time.time()),
            )

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._row(row)

    def update(self, job_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown job column(s) {sorted(unknown)}")
        names = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {names} WHERE id = ?", (*fields.values(), job_id))

    def claim(self, job_id: str) -> bool:
        """Mark a queued job running; False when it is no longer queued (cancelled, deleted)."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET status = ?, started = ? WHERE id = ? AND status = ?",
                (RUNNING, time.time(), job_id, QUEUED),
            )
        return cur.rowcount == 1

    def cancel_queued(self, job_id: str) -> bool:
        """Cancel a job that has not started; False when it is not queued."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET status = ?, finished = ? WHERE id = ? AND status = ?",
                (CANCELLED, time.time(), job_id, QUEUED),
            )
        return cur.rowcount == 1

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def recent(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._row(r) for r in rows]  # type: ignore[misc]

    def queued_ids(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE status = ? ORDER BY seq", (QUEUED,)
            ).fetchall()
        return [r["id"] for r in rows]

    def count(self, status: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM jobs WHERE status = ?", (status,))
            return int(row.fetchone()[0])

    def position(self, job_id: str) -> int | None:
        """How many queued jobs are ahead of this queued job (0: next), else None."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE status = ? AND seq < "
                "(SELECT seq FROM jobs WHERE id = ? AND status = ?)",
                (QUEUED, job_id, QUEUED),
            ).fetchone()
            exists = self._db.execute(
                "SELECT 1 FROM jobs WHERE id = ? AND status = ?", (job_id, QUEUED)
            ).fetchone()
        return int(row[0]) if exists else None

    def mean_run_seconds(self, last: int = 20) -> float | None:
        """The mean wall time of the last finished jobs (for Retry-After), None before any."""
        with self._lock:
            row = self._db.execute(
                "SELECT AVG(finished - started) FROM (SELECT finished, started FROM jobs "
                "WHERE status = ? AND started IS NOT NULL ORDER BY seq DESC LIMIT ?)",
                (DONE, last),
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def recover(self) -> list[str]:
        """After a restart: jobs that were running are failed with the reason; returns the ids
        of the queued jobs, oldest first, to run again."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET status = ?, finished = ?, error = ? WHERE status = ?",
                (
                    FAILED,
                    time.time(),
                    "the server stopped while this job was running; submit it again.",
                    RUNNING,
                ),
            )
        return self.queued_ids()
