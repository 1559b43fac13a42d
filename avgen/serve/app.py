"""The FastAPI application: the job API under ``/api`` and the page at ``/``.

``create_app(ServeConfig(...))`` builds it; ``run_server`` (``avgen serve``) runs it with
uvicorn. Every error answer is ``{"detail": "<one sentence>"}``; a limit of this server is
named in the sentence with its flag.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import secrets
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from avgen import __version__, api
from avgen.errors import AvgenError
from avgen.serve.models import ModelEntry, ModelRegistry, shipped_models
from avgen.serve.schema import (
    AUDIO_ONLY,
    UPLOADS,
    VIDEO_ONLY,
    Error,
    Health,
    JobList,
    JobSettings,
    JobStatus,
    Limits,
    ModelList,
    PlanAnswer,
    PlanRequest,
    PromptAnswer,
    PromptRequest,
)
from avgen.serve.store import FINAL, QUEUED, RUNNING, JobStore
from avgen.serve.worker import JobRunner

STATIC = Path(__file__).parent / "static"
MEDIA_TYPES = {".wav": "audio/wav", ".mp4": "video/mp4"}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Error} for code in (400, 401, 404, 409, 413, 415, 422, 429)
}


@dataclass
class ServeConfig:
    """Everything ``avgen serve`` was started with."""

    results_dir: Path
    workers: int = 1
    max_queue: int = 16
    token: str | None = None
    models: list[ModelEntry] = field(default_factory=shipped_models)
    limits: Limits = field(default_factory=Limits)
    device: str = "cpu"  # where every job runs (clients do not choose)


def _fail(status: int, detail: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status_code=status, detail=detail, headers=headers)


def create_app(config: ServeConfig) -> FastAPI:
    """The web app: a job store under ``config.results_dir``, ``config.workers`` threads."""
    api.check_device(config.device)
    if config.workers < 1:
        raise AvgenError(f"--workers must be at least 1, got {config.workers}.")
    if config.max_queue < 1:
        raise AvgenError(f"--max-queue must be at least 1, got {config.max_queue}.")
    results = Path(config.results_dir)
    try:
        results.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AvgenError(f"cannot create the results folder {results}: {exc.strerror}.") from exc
    registry = ModelRegistry(config.models)
    store = JobStore(results / "jobs.sqlite")
    runner = JobRunner(store, results, registry, config.workers, config.device)
    submit_lock = threading.Lock()
    limits = config.limits
    body_cap = int(limits.max_upload_mb * 2**20) * len(UPLOADS) + 2**16

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        runner.start()
        yield
        await asyncio.to_thread(runner.stop)
        store.close()

    app = FastAPI(
        title="avgen",
        version=__version__,
        description="Text to audio and video: a job queue over avgen.api, and its page.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load their scripts from a CDN: not offline
        redoc_url=None,
    )
    app.state.runner, app.state.store, app.state.config = runner, store, config

    # ------------------------------------------------------------------ token, errors

    @app.middleware("http")
    async def check_token(request: Request, call_next: Any) -> Response:
        if config.token is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            given = given or request.query_params.get("token", "")
            if not hmac.compare_digest(given.encode(), config.token.encode()):
                return JSONResponse(
                    {"detail": "this server needs its token: send 'Authorization: Bearer "
                     "TOKEN' or add ?token=TOKEN."},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )  # fmt: skip
        length = request.headers.get("content-length", "")
        if length.isdecimal() and int(length) > body_cap:  # refused before it is read
            return JSONResponse(
                {"detail": f"the request body is {int(length)} bytes, over this server's limit "
                 f"of {body_cap} bytes (--max-upload-mb {limits.max_upload_mb:g} for each of "
                 f"the {len(UPLOADS)} input files, plus 64 KiB)."},
                status_code=413,
            )  # fmt: skip
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _sentence(exc.errors())}, status_code=422)

    @app.exception_handler(AvgenError)
    async def avgen_error(request: Request, exc: AvgenError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    # ------------------------------------------------------------------ helpers

    def status_of(job: dict[str, Any]) -> dict[str, Any]:
        position = store.position(job["id"]) if job["status"] == QUEUED else None
        if job["status"] == QUEUED and position is None:  # a worker took it meanwhile
            job = store.get(job["id"]) or job
        p = runner.progress(job["id"]) if job["status"] == RUNNING else None
        if p is None:
            p = {"step": job["step"], "total": job["total"], "eta_s": None, "elapsed_s": None}
            if job["status"] == "done" and job["started"] and job["finished"]:
                p["elapsed_s"] = round(job["finished"] - job["started"], 2)
        base = f"/api/jobs/{job['id']}"
        result = None
        if job["status"] == "done":
            result = {"file": f"{base}/result", "sidecar": f"{base}/sidecar"}
            if preview_path(job) is not None:
                result["preview"] = f"{base}/preview"
        return {
            "id": job["id"],
            "kind": job["kind"],
            "status": job["status"],
            "position": position if job["status"] == QUEUED else None,
            "progress": {k: p[k] for k in ("step", "total", "eta_s", "elapsed_s")},
            "prompt": job["settings"].get("prompt", ""),
            "settings": job["settings"],
            "inputs": sorted(job["inputs"]),
            "error": job["error"],
            "created": job["created"],
            "started": job["started"],
            "finished": job["finished"],
            "cancel_requested": bool(p.get("cancel", False)),
            "result": result,
        }

    def get_job(job_id: str) -> dict[str, Any]:
        job = store.get(job_id) if len(job_id) <= 64 else None
        if job is None:
            raise _fail(404, f"there is no job {job_id!r} (deleted, or never submitted).")
        return job

    def output_path(job: dict[str, Any]) -> Path:
        if job["status"] != "done" or not job["output"]:
            raise _fail(409, f"job {job['id']} has no result: it is {job['status']}.")
        path = runner.job_dir(job["id"]) / job["output"]
        if not path.is_file():
            raise _fail(404, f"the result of job {job['id']} is no longer on the server.")
        return path

    def preview_path(job: dict[str, Any]) -> Path | None:
        if not job["output"]:
            return None
        out = runner.job_dir(job["id"]) / job["output"]
        png = out.with_name(out.name + ".png")
        return png if png.is_file() else None

    def check_limits(settings: JobSettings) -> None:
        wrong = AUDIO_ONLY if settings.kind == "video" else VIDEO_ONLY
        for key in wrong:
            if getattr(settings, key) is not None:
                raise _fail(422, f"{key} is a setting of {_other(settings.kind)} jobs, "
                            f"not {settings.kind} jobs.")  # fmt: skip
        try:
            prompt = api.check_prompt(settings.prompt)
        except AvgenError as exc:
            raise _fail(422, str(exc)) from None
        if len(prompt) > limits.max_prompt_chars:
            raise _fail(422, f"the prompt is {len(prompt)} characters long; this server's limit "
                        f"is {limits.max_prompt_chars} (--max-prompt-chars).")  # fmt: skip
        steps = settings.num_inference_steps
        if steps is not None and steps > limits.max_steps:
            raise _fail(422, f"num_inference_steps {steps} is over this server's limit of "
                        f"{limits.max_steps} (--max-steps).")  # fmt: skip
        for key in ("audio_length_in_s", "duration_s"):
            value = getattr(settings, key)
            if value is not None and value > limits.max_duration_s:
                raise _fail(422, f"{key} {value:g} s is over this server's limit of "
                            f"{limits.max_duration_s:g} s (--max-duration).")  # fmt: skip
        if settings.num_frames is not None:
            seconds = settings.num_frames / (settings.fps or 8)
            if seconds > limits.max_duration_s:
                raise _fail(
                    422,
                    f"num_frames {settings.num_frames} is {seconds:g} s, over this "
                    f"server's limit of {limits.max_duration_s:g} s (--max-duration).",
                )
        for key in ("width", "height", "upscale"):
            value = getattr(settings, key)
            if value is not None and value > limits.max_size:
                raise _fail(422, f"{key} {value} is over this server's limit of "
                            f"{limits.max_size} pixels (--max-size).")  # fmt: skip
        if settings.candidates is not None and settings.candidates > limits.max_candidates:
            raise _fail(422, f"candidates {settings.candidates} is over this server's limit of "
                        f"{limits.max_candidates} (--max-candidates).")  # fmt: skip
        try:
            registry.get(settings.kind, settings.model or registry.default(settings.kind) or "")
            if settings.lora is not None:
                registry.get("adapter", settings.lora)
        except AvgenError as exc:
            raise _fail(422, str(exc)) from None

    def reserve(settings: JobSettings, inputs: dict[str, str]) -> tuple[str, int]:
        """A place in the queue, or 429 with Retry-After when it is full."""
        with submit_lock:
            queued = store.count(QUEUED)
            if queued >= config.max_queue:
                mean = store.mean_run_seconds() or 5.0
                wait = max(1, math.ceil(mean * (queued / config.workers)))
                raise _fail(
                    429,
                    f"the queue is full ({queued} jobs waiting, --max-queue "
                    f"{config.max_queue}); try again in {wait} s.",
                    headers={"Retry-After": str(wait)},
                )
            job_id = secrets.token_hex(8)
            store.add(job_id, settings.kind, settings.model_dump(exclude_none=True), inputs)
            return job_id, queued

    def submit(settings: JobSettings, uploads: dict[str, Any] | None = None) -> JSONResponse:
        check_limits(settings)
        uploads = uploads or {}
        names = {key: f"{key}{suffix}" for key, (suffix, _) in uploads.items()}
        job_id, _ = reserve(settings, names)
        if uploads:
            folder = runner.job_dir(job_id) / "inputs"
            folder.mkdir(parents=True, exist_ok=True)
            for key, (_, data) in uploads.items():
                (folder / names[key]).write_bytes(data)
        answer = status_of(store.get(job_id))  # type: ignore[arg-type]  # before a worker sees it
        runner.enqueue(job_id)
        return JSONResponse(answer, status_code=201, headers={"Location": f"/api/jobs/{job_id}"})

    # ------------------------------------------------------------------ the API

    @app.post("/api/jobs", status_code=201, response_model=JobStatus, responses=_ERRORS,
              summary="Submit a job (JSON settings)")  # fmt: skip
    def submit_job(settings: JobSettings) -> JSONResponse:
        """Queue a job; the answer holds its id and queue position. 429 + Retry-After when
        the queue is full."""
        return submit(settings)

    @app.post("/api/jobs/upload", status_code=201, response_model=JobStatus, responses=_ERRORS,
              summary="Submit a job with input files (multipart)")  # fmt: skip
    async def submit_upload(
        settings: str = Form(..., description="the JobSettings as JSON"),
        init_audio: UploadFile | None = File(None, description="audio: the sound to transform"),
        melody: UploadFile | None = File(None, description="audio: a MIDI file to play"),
        plan: UploadFile | None = File(None, description="audio: a note plan JSON file"),
        init_image: UploadFile | None = File(None, description="video: the first frame"),
        extend: UploadFile | None = File(None, description="video: an MP4 to continue"),
    ) -> JSONResponse:
        """Queue a job whose input files travel with it (``settings`` is the JSON of
        ``JobSettings``)."""
        try:
            parsed = JobSettings.model_validate_json(settings)
        except ValidationError as exc:
            raise _fail(422, _sentence(exc.errors(), prefix="settings")) from None
        files = {"init_audio": init_audio, "melody": melody, "plan": plan,
                 "init_image": init_image, "extend": extend}  # fmt: skip
        uploads: dict[str, Any] = {}
        cap = int(limits.max_upload_mb * 1024 * 1024)
        for key, upload in files.items():
            if upload is None or (not upload.filename and not upload.size):
                continue
            kind, suffixes = UPLOADS[key]
            if parsed.kind != kind:
                raise _fail(422, f"{key} is an input of {kind} jobs, not {parsed.kind} jobs.")
            suffix = Path(upload.filename or "").suffix.lower()
            if suffix not in suffixes:
                raise _fail(415, f"{key} must be a {', '.join(suffixes)} file, got "
                            f"{suffix or 'no extension'!r}.")  # fmt: skip
            data = await upload.read(cap + 1)
            if len(data) > cap:
                raise _fail(413, f"{key} is over this server's upload limit of "
                            f"{limits.max_upload_mb:g} MB (--max-upload-mb).")  # fmt: skip
            uploads[key] = (suffix, data)
        if "plan" in uploads and parsed.plan is not None:
            raise _fail(422, "give the plan in the settings or as a file, not both.")
        return await asyncio.to_thread(submit, parsed, uploads)

    @app.get("/api/jobs", response_model=JobList, summary="Recent jobs, newest first")
    def list_jobs(limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
        return {"jobs": [status_of(job) for job in store.recent(limit)]}

    @app.get("/api/jobs/{job_id}", response_model=JobStatus, responses=_ERRORS,
             summary="A job's status, queue position and progress")  # fmt: skip
    def job_status(job_id: str) -> dict[str, Any]:
        return status_of(get_job(job_id))

    @app.get("/api/jobs/{job_id}/events", responses=_ERRORS,
             summary="A job's status as server-sent events until it ends")  # fmt: skip
    async def job_events(job_id: str, request: Request) -> StreamingResponse:
        """``event: status`` with the JobStatus JSON whenever it changes; the stream ends
        after the job is done, failed or cancelled (or deleted: ``event: deleted``)."""
        get_job(job_id)

        async def stream() -> Any:
            last, quiet = None, 0
            while True:
                job = store.get(job_id)
                if job is None:
                    yield "event: deleted\ndata: {}\n\n"
                    return
                data = json.dumps(status_of(job))
                if data != last:
                    yield f"event: status\ndata: {data}\n\n"
                    last, quiet = data, 0
                elif (quiet := quiet + 1) % 60 == 0:  # a comment every 15 s keeps proxies open
                    yield ": waiting\n\n"
                if job["status"] in FINAL or await request.is_disconnected():
                    return
                await asyncio.sleep(0.25)

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    @app.post("/api/jobs/{job_id}/cancel", response_model=JobStatus, responses=_ERRORS,
              summary="Cancel a queued or running job")  # fmt: skip
    def cancel_job(job_id: str) -> dict[str, Any]:
        """A queued job is cancelled at once; a running one stops at its next step
        (``cancel_requested``), then its status is cancelled."""
        job = get_job(job_id)
        if job["status"] in FINAL:
            raise _fail(409, f"job {job_id} has already ended: it is {job['status']}.")
        if not store.cancel_queued(job_id):
            runner.request_cancel(job_id)
        return status_of(get_job(job_id))

    @app.delete("/api/jobs/{job_id}", status_code=204, responses=_ERRORS,
                summary="Delete a job, its result and its inputs")  # fmt: skip
    def delete_job(job_id: str) -> Response:
        job = get_job(job_id)
        if job["status"] == RUNNING:
            raise _fail(409, f"job {job_id} is running: cancel it before deleting it.")
        store.cancel_queued(job_id)
        store.delete(job_id)
        runner.delete_files(job_id)
        return Response(status_code=204)

    @app.get("/api/jobs/{job_id}/result", responses={**_ERRORS, 200: {"content": {
        "audio/wav": {}, "video/mp4": {}}}}, summary="The generated file")  # fmt: skip
    def job_result(job_id: str, download: bool = False) -> FileResponse:
        path = output_path(get_job(job_id))
        name = f"avgen-{job_id}{path.suffix}" if download else None
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], filename=name)

    @app.get("/api/jobs/{job_id}/sidecar", responses=_ERRORS,
             summary="The result's sidecar JSON (prompt, seed, settings, model)")  # fmt: skip
    def job_sidecar(job_id: str, download: bool = False) -> FileResponse:
        path = output_path(get_job(job_id))
        side = path.with_name(path.name + ".json")
        if not side.is_file():
            raise _fail(404, f"the sidecar of job {job_id} is no longer on the server.")
        name = f"avgen-{job_id}{path.suffix}.json" if download else None
        return FileResponse(side, media_type="application/json", filename=name)

    @app.get("/api/jobs/{job_id}/preview", responses={**_ERRORS, 200: {"content": {
        "image/png": {}}}}, summary="Audio: the spectrogram; video: the contact sheet")  # fmt: skip
    def job_preview(job_id: str) -> FileResponse:
        job = get_job(job_id)
        output_path(job)
        png = preview_path(job)
        if png is None:
            raise _fail(404, f"job {job_id} has no preview (it ran with preview false).")
        return FileResponse(png, media_type="image/png")

    @app.get("/api/health", response_model=Health, summary="Is the server answering")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "workers": config.workers,
                "queued": store.count(QUEUED), "running": store.count(RUNNING),
                "max_queue": config.max_queue}  # fmt: skip

    @app.get("/api/models", response_model=ModelList, summary="Offered models and limits")
    def models() -> dict[str, Any]:
        return {"audio": registry.names("audio"), "video": registry.names("video"),
                "adapter": registry.names("adapter"), "limits": limits.to_dict()}  # fmt: skip

    @app.post("/api/prompt", response_model=PromptAnswer,
              summary="Build a layered prompt and lint it")  # fmt: skip
    def prompt(request: PromptRequest) -> dict[str, Any]:
        """The page's prompt builder: the composed prompt and the linter's advice, or the
        builder's one-sentence error (a missing first layer) with prompt null."""
        try:
            if request.kind == "audio":
                text = api.build_prompt("audio", request.mood, request.details,
                                        duration_s=request.duration_s,
                                        tempo_bpm=request.tempo_bpm)  # fmt: skip
            else:
                text = api.build_prompt("video", request.scene, request.motion, request.style)
            lint = api.lint_prompt(text, kind=request.kind).to_dict()
        except AvgenError as exc:
            return {"prompt": None, "lint": None, "error": str(exc)}
        return {"prompt": text, "lint": lint, "error": None}

    def plan(request: PlanRequest, melody: Path | None = None) -> dict[str, Any]:
        if melody is None and (request.prompt is None or not request.prompt.strip()):
            raise _fail(422, "give a prompt to plan, or upload a MIDI file as melody.")
        if melody is None and request.melody_track is not None:
            raise _fail(422, "melody_track picks a track of an uploaded MIDI file; none came.")
        if request.kind == "video" and melody is not None:
            raise _fail(422, "a melody is a plan of audio jobs, not video jobs.")
        try:
            if request.kind == "video":
                result = api.plan_video(request.prompt or "", duration_s=request.duration_s,
                                        seed=request.seed, fps=request.fps)  # fmt: skip
            else:
                result = api.plan_audio(request.prompt, duration_s=request.duration_s,
                                        seed=request.seed, melody=melody,
                                        melody_track=request.melody_track)  # fmt: skip
        except AvgenError as exc:  # the upload's name on this server is no business of a client
            text = str(exc) if melody is None else str(exc).replace(str(melody), "the melody")
            raise _fail(422, text) from None
        if result is None:
            what = ("nothing to play (an instrument, a raga, a genre or drums)"
                    if request.kind == "audio" else "nothing to move")  # fmt: skip
            message = f"this prompt names {what}, so it is generated from the text alone."
            return {"plan": None, "message": message}
        return {"plan": result.to_dict(), "message": None}

    @app.post("/api/plan", response_model=PlanAnswer, responses=_ERRORS,
              summary="The note plan (audio) or motion plan (video) of a prompt")  # fmt: skip
    def plan_prompt(request: PlanRequest) -> dict[str, Any]:
        """Audio: notes, beats and drums composed from the prompt (seeded), what an audio job
        follows; video: object tracks and contacts from MotionWorld's physics. Plan null with
        a message when the prompt names nothing to play or move."""
        return plan(request)

    @app.post("/api/plan/upload", response_model=PlanAnswer, responses=_ERRORS,
              summary="The note plan of an uploaded MIDI file")  # fmt: skip
    async def plan_midi(
        settings: str = Form("{}", description="the PlanRequest as JSON"),
        melody: UploadFile = File(..., description="a MIDI file (.mid, .midi)"),
    ) -> dict[str, Any]:
        try:
            parsed = PlanRequest.model_validate_json(settings)
        except ValidationError as exc:
            raise _fail(422, _sentence(exc.errors(), prefix="settings")) from None
        suffix = Path(melody.filename or "").suffix.lower()
        if suffix not in (".mid", ".midi"):
            raise _fail(
                415, f"melody must be a .mid or .midi file, got {suffix or 'no extension'!r}."
            )
        cap = int(limits.max_upload_mb * 1024 * 1024)
        data = await melody.read(cap + 1)
        if len(data) > cap:
            raise _fail(413, f"melody is over this server's upload limit of "
                        f"{limits.max_upload_mb:g} MB (--max-upload-mb).")  # fmt: skip
        folder = results / "uploads"
        folder.mkdir(exist_ok=True)
        path = folder / f"melody-{secrets.token_hex(8)}{suffix}"
        path.write_bytes(data)
        try:
            return await asyncio.to_thread(plan, parsed, path)
        finally:
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ the page

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        files = {p.name: p for p in STATIC.iterdir() if p.is_file()}
        if name not in files:
            raise _fail(404, f"there is no page file {name!r}.")
        types = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
        return FileResponse(files[name], media_type=types.get(files[name].suffix))

    return app


def _other(kind: str) -> str:
    return "audio" if kind == "video" else "video"


def _sentence(errors: Any, prefix: str | None = None) -> str:
    """The first validation error as one sentence naming the field and what is allowed."""
    errors = list(errors)
    if not errors:
        return "the request is not valid."
    first = errors[0]
    loc = [str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path")]
    name = ".".join(([prefix] if prefix else []) + loc) or "the request"
    msg = str(first.get("msg", "is not valid")).rstrip(".")
    more = f" ({len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{name}: {msg[0].lower() + msg[1:] if msg else msg}{more}."
