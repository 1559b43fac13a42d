"""The request and answer shapes of the HTTP API (pydantic models: the OpenAPI document).

Job settings use ``avgen.api``'s names and ranges (``avgen.pipelines.checks.RANGES``); a
server's own limits (``Limits``) are checked on top and named in the 4xx answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from avgen.api import MAX_DURATION_S
from avgen.pipelines.checks import RANGES

_R = RANGES


@dataclass(frozen=True)
class Limits:
    """What one job may ask of this server (each a ``avgen serve`` flag)."""

    max_duration_s: float = 30.0  # --max-duration
    max_steps: int = 100  # --max-steps
    max_size: int = 512  # --max-size: width, height and upscale in pixels
    max_prompt_chars: int = 1000  # --max-prompt-chars
    max_upload_mb: float = 16.0  # --max-upload-mb
    max_candidates: int = 4  # --max-candidates

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class JobSettings(BaseModel):
    """A job: what to generate and how. Unset values take the model's defaults."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["audio", "video"]
    prompt: str = Field(min_length=1, max_length=2000)
    negative_prompt: str | None = Field(None, max_length=2000)
    seed: int = Field(0, ge=0, le=int(_R["seed"].high))
    num_inference_steps: int | None = Field(None, ge=1, le=int(_R["steps"].high))
    guidance_scale: float | None = Field(None, ge=_R["guidance"].low, le=_R["guidance"].high)
    model: str | None = Field(None, max_length=64, description="a model name from /api/models")
    preview: bool = Field(True, description="audio: a spectrogram PNG; video: GIF + sheet")
    # audio
    audio_length_in_s: float | None = Field(None, gt=0, le=MAX_DURATION_S)
    candidates: int | None = Field(None, ge=1, le=int(_R["candidates"].high))
    vocoder: Literal["neural", "griffin-lim"] | None = None
    strength: float | None = Field(None, gt=0, le=1, description="with an init_audio upload")
    inpaint: tuple[float, float] | None = Field(None, description="seconds, with init_audio")
    super_resolution: float | None = Field(None, gt=0, lt=_R["super-resolution cut-off"].high)
    lora: str | None = Field(None, max_length=64, description="an adapter name (audio)")
    plan: dict[str, Any] | Literal[False] | None = Field(
        None, description="a note plan (the JSON of POST /api/plan), or false for text only"
    )
    melody_track: int | None = Field(None, ge=0, le=127, description="with a melody upload")
    # video
    duration_s: float | None = Field(None, gt=0, le=MAX_DURATION_S)
    num_frames: int | None = Field(None, ge=1, le=1000)
    width: int | None = Field(None, ge=1, le=4096)
    height: int | None = Field(None, ge=1, le=4096)
    fps: int | None = Field(None, ge=int(_R["fps"].low), le=int(_R["fps"].high))
    upscale: int | None = Field(None, ge=0, le=int(_R["upscale"].high))


AUDIO_ONLY = ("audio_length_in_s", "candidates", "vocoder", "strength", "inpaint",
              "super_resolution", "lora", "plan", "melody_track")  # fmt: skip
VIDEO_ONLY = ("duration_s", "num_frames", "width", "height", "fps", "upscale")
#: Upload fields of ``POST /api/jobs/upload``: the kind they belong to and the file endings.
UPLOADS = {
    "init_audio": ("audio", (".wav", ".flac", ".ogg", ".mp3")),
    "melody": ("audio", (".mid", ".midi")),
    "plan": ("audio", (".json",)),
    "init_image": ("video", (".png", ".jpg", ".jpeg", ".webp", ".bmp")),
    "extend": ("video", (".mp4",)),
}


class Progress(BaseModel):
    step: int
    total: int
    eta_s: float | None = Field(None, description="seconds left, from the mean step time")
    elapsed_s: float | None = None


class JobStatus(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    position: int | None = Field(None, description="queued jobs ahead of this one (0: next)")
    progress: Progress
    prompt: str
    settings: dict[str, Any]
    inputs: list[str]
    error: str | None = None
    created: float
    started: float | None = None
    finished: float | None = None
    cancel_requested: bool = False
    result: dict[str, str] | None = Field(None, description="URLs of the file, sidecar, preview")


class JobList(BaseModel):
    jobs: list[JobStatus]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    workers: int
    queued: int
    running: int
    max_queue: int


class ModelList(BaseModel):
    audio: list[str]
    video: list[str]
    adapter: list[str]
    limits: dict[str, Any]


class PromptRequest(BaseModel):
    """The layered prompt builder: audio (mood, details, duration, tempo) or video (scene,
    motion, style)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["audio", "video"]
    mood: str = Field("", max_length=500)
    details: str = Field("", max_length=500)
    duration_s: float | None = Field(None, gt=0, le=MAX_DURATION_S)
    tempo_bpm: float | None = Field(None, gt=0, le=300)
    scene: str = Field("", max_length=500)
    motion: str = Field("", max_length=500)
    style: str = Field("", max_length=500)


class PromptAnswer(BaseModel):
    prompt: str | None
    lint: dict[str, Any] | None
    error: str | None = None


class PlanRequest(BaseModel):
    """The plan a prompt gets: audio, the note plan ``avgen audio`` would follow
    (``avgen.api.plan_audio``: composed from the prompt, or read from a MIDI file uploaded to
    ``POST /api/plan/upload``); video, the motion plan (``avgen.api.plan_video``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["audio", "video"] = "audio"
    prompt: str | None = Field(None, max_length=2000)
    duration_s: float | None = Field(None, gt=0, le=_R["audio duration"].high)
    seed: int = Field(0, ge=0, le=int(_R["seed"].high))
    melody_track: int | None = Field(None, ge=0, le=127, description="with a MIDI upload")
    fps: int = Field(8, ge=int(_R["fps"].low), le=int(_R["fps"].high), description="video")


class PlanAnswer(BaseModel):
    plan: dict[str, Any] | None = Field(None, description="the NotePlan or MotionPlan as JSON")
    message: str | None = Field(None, description="why there is no plan")


class Error(BaseModel):
    detail: str
