"""Motion plans: where each object is in every output frame, what it touches and when, and how
the camera moves, for the video side of "plan, then render" (docs/PLANS.md).

A plan is data: ``MotionPlan.from_dict`` checks a hand-edited JSON object field by field
(``avgen.plan.schema``), ``to_dict`` writes the versioned form back, ``window`` cuts the frames a
window of a long clip renders (re-timed to start at 0) and ``layout`` rasterises the per-frame
instance map a video model reads at its own resolution (which object covers which cell; never
its colour or shape, which come from the text).

Coordinates are normalised to the output frame: x is a fraction of the frame width from the
left edge, y a fraction of the frame height from the top (y down), so a plan fits any output
size of the same aspect ratio (``width`` / ``height`` give that ratio). An object's ``w`` and
``h`` are its extent (circle diameter, square side, triangle side) as fractions of the frame
width and height; angles are degrees, clockwise on screen; velocities are those fractions per
second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from avgen.plan import schema
from avgen.plan.schema import PlanError

KIND = "motion"
FPS_RANGE = (1, 120)
MAX_SECONDS = 120.0  # a plan covers at most this much video
FRAME_PIXELS = (16, 4096)  # width / height of the output frame a plan is drawn for
MAX_OBJECTS = 16
MAX_EVENTS = 5_000
COORD_LIMIT = 100.0  # |x|, |y| at most this (frames): an object may leave the frame, not wander
SIZE_LIMIT = 4.0  # w, h at most this (frames)
TIME_FACTOR_RANGE = (0.05, 20.0)
EVENT_KINDS = ("bounce", "land", "collision")
SURFACES = ("floor", "wall", "object")
CAMERA_MOTIONS = ("static", "pan_left", "pan_right", "zoom_in", "zoom_out")
SOURCES = ("planner", "world", "user")
_FRAME_KEYS = ("x", "y", "w", "h", "angle", "visible")
_END_KEYS = ("x", "y", "vx", "vy", "angle")


@dataclass
class ObjectFrame:
    """One object in one frame: centre (x, y), extent (w, h), angle (deg) and visibility."""

    x: float
    y: float
    w: float
    h: float
    angle: float = 0.0
    visible: bool = True

    def to_dict(self) -> dict:
        return {
            "x": round(self.x, 5),
            "y": round(self.y, 5),
            "w": round(self.w, 5),
            "h": round(self.h, 5),
            "angle": round(self.angle, 3),
            "visible": self.visible,
        }

    def in_frame(self) -> bool:
        """Visible and overlapping the frame (its extent box meets 0..1 x 0..1)."""
        return (
            self.visible
            and self.x + self.w / 2 > 0
            and self.x - self.w / 2 < 1
            and self.y + self.h / 2 > 0
            and self.y - self.h / 2 < 1
        )


@dataclass
class EndState:
    """Where an object is and how it moves at the plan's last frame (a next shot continues it)."""

    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0
    angle: float = 0.0

    def to_dict(self) -> dict:
        return {k: round(getattr(self, k), 5) for k in _END_KEYS}


@dataclass
class PlannedObject:
    """One object: its id, its track (one ``ObjectFrame`` per output frame) and end state.
    ``meta`` keeps the words it came from (colour, shape, motion); nothing reads them."""

    id: int
    frames: list[ObjectFrame]
    end: EndState
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "meta": self.meta,
            "frames": [f.to_dict() for f in self.frames],
            "end": self.end.to_dict(),
        }


@dataclass
class ContactEvent:
    """A contact: time (s), kind, position (x, y), the objects involved and the surface."""

    t_s: float
    kind: str
    x: float
    y: float
    objects: list[int]
    surface: str
    speed: float | None = None  # impact speed along the contact normal (frame widths / s)

    def to_dict(self) -> dict:
        out = {
            "t_s": round(self.t_s, 5),
            "kind": self.kind,
            "x": round(self.x, 5),
            "y": round(self.y, 5),
            "objects": list(self.objects),
            "surface": self.surface,
        }
        if self.speed is not None:
            out["speed"] = round(self.speed, 5)
        return out


@dataclass
class CameraTrack:
    """The camera per frame: ``pan_x`` (the view's offset in frame widths, + = right) and
    ``zoom`` (scale about the centre, 1 = none). Objects keep their plan positions on screen."""

    motion: str
    pan_x: list[float]
    zoom: list[float]

    def to_dict(self) -> dict:
        return {
            "motion": self.motion,
            "pan_x": [round(v, 5) for v in self.pan_x],
            "zoom": [round(v, 5) for v in self.zoom],
        }


@dataclass
class MotionPlan:
    """Where ``objects`` are in each of ``num_frames`` frames at ``fps``, with contact events."""

    fps: int
    num_frames: int
    width: int = 64
    height: int = 64
    objects: list[PlannedObject] = field(default_factory=list)
    events: list[ContactEvent] = field(default_factory=list)
    camera: CameraTrack | None = None
    time_factor: float = 1.0  # the time word: 0.5 slow motion, 2 time-lapse (read as a rate)
    source: str = "user"
    meta: dict = field(default_factory=dict)  # prompt, seed, scene...: kept, not read

    def __post_init__(self) -> None:
        self.events.sort(key=lambda e: (e.t_s, e.objects))

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    def rounded(self) -> MotionPlan:
        """This plan with every number as its JSON form writes it (what a sidecar, and so a
        rerun, reads back); unlike ``from_dict`` it checks nothing."""
        objects = [
            PlannedObject(
                o.id,
                [ObjectFrame(**f.to_dict()) for f in o.frames],
                EndState(**o.end.to_dict()),
                o.meta,
            )
            for o in self.objects
        ]
        events = [ContactEvent(**e.to_dict()) for e in self.events]
        camera = None if self.camera is None else CameraTrack(**self.camera.to_dict())
        return MotionPlan(
            self.fps, self.num_frames, self.width, self.height, objects, events, camera,
            self.time_factor, self.source, self.meta,
        )  # fmt: skip

    # ------------------------------------------------------------------ JSON form

    def to_dict(self) -> dict:
        return {
            "avgen_plan": schema.PLAN_VERSION,
            "kind": KIND,
            "fps": self.fps,
            "num_frames": self.num_frames,
            "duration_s": round(self.duration_s, 5),
            "width": self.width,
            "height": self.height,
            "time_factor": self.time_factor,
            "objects": [o.to_dict() for o in self.objects],
            "events": [e.to_dict() for e in self.events],
            "camera": None if self.camera is None else self.camera.to_dict(),
            "source": self.source,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data) -> MotionPlan:
        """Check ``data`` (a plan's JSON object) and build the plan; ``PlanError`` names the
        first field that is wrong."""
        keys = (
            "fps",
            "num_frames",
            "duration_s",
            "width",
            "height",
            "time_factor",
            "objects",
            "events",
            "camera",
            "source",
            "meta",
        )
        data = schema.header(data, KIND, keys, ("fps", "objects"))
        fps = int(schema.number(data["fps"], "plan.fps", *FPS_RANGE, whole=True))
        n = _frame_count(data, fps)
        width = int(schema.number(data.get("width", 64), "plan.width", *FRAME_PIXELS, whole=True))
        height = int(
            schema.number(data.get("height", 64), "plan.height", *FRAME_PIXELS, whole=True)
        )
        tf = schema.number(data.get("time_factor", 1.0), "plan.time_factor", *TIME_FACTOR_RANGE)
        objs = [
            _object(o, f"plan.objects[{i}]", n, fps)
            for i, o in enumerate(schema.items(data["objects"], "plan.objects", MAX_OBJECTS))
        ]
        ids = [o.id for o in objs]
        for i, oid in enumerate(ids):
            if oid in ids[:i]:
                raise PlanError(f"plan.objects[{i}].id is {oid}, the id of an earlier object.")
        events = [
            _event(e, f"plan.events[{i}]", n / fps, ids)
            for i, e in enumerate(schema.items(data.get("events", []), "plan.events", MAX_EVENTS))
        ]
        camera = data.get("camera")
        camera = None if camera is None else _camera(camera, "plan.camera", n)
        source = schema.text(data.get("source", "user"), "plan.source", SOURCES)
        meta = _meta(data.get("meta", {}), "plan.meta")
        return cls(fps, n, width, height, objs, events, camera, tf, source, meta)

    # ------------------------------------------------------------------ use

    def object_index(self, object_id: int) -> int:
        return [o.id for o in self.objects].index(object_id)

    def window(self, start: int, end: int) -> MotionPlan:
        """Frames ``start`` to ``end`` (exclusive) as a plan of their own, re-timed to start at
        0: the events inside, the camera's part and each object's state at the window's last
        frame as its end state (the velocity there by a backward difference, or the plan's own
        end state when the window reaches the plan's end)."""
        if not 0 <= start < end <= self.num_frames:
            raise PlanError(
                f"window {start}..{end} is outside the plan's frames; use 0 <= start < end <= "
                f"{self.num_frames}."
            )
        t0, t1 = start / self.fps, end / self.fps
        objs = []
        for o in self.objects:
            frames = [ObjectFrame(**vars(f)) for f in o.frames[start:end]]
            if end == self.num_frames:
                state = EndState(**vars(o.end))
            else:
                state = state_at(o.frames, end - 1, self.fps)
            objs.append(PlannedObject(o.id, frames, state, dict(o.meta)))
        events = [
            ContactEvent(e.t_s - t0, e.kind, e.x, e.y, list(e.objects), e.surface, e.speed)
            for e in self.events
            if t0 <= e.t_s < t1
        ]
        camera = None
        if self.camera is not None:
            c = self.camera
            camera = CameraTrack(c.motion, c.pan_x[start:end], c.zoom[start:end])
        meta = dict(self.meta, window=[start, end])
        return MotionPlan(
            self.fps,
            end - start,
            self.width,
            self.height,
            objs,
            events,
            camera,
            self.time_factor,
            self.source,
            meta,
        )

    def layout(self, frames, height: int, width: int) -> np.ndarray:
        """Per frame, which object covers each cell of a ``height`` x ``width`` grid (a video
        model's latent resolution): (len(frames), height, width) int16, 0 for no object and
        k + 1 for ``objects[k]``. Each object is the ellipse its ``w`` x ``h`` extent bounds
        (cells whose centres fall inside; at least the cell holding its centre while it is in
        frame); later objects cover earlier ones. ``frames`` is a count (the first frames) or a
        sequence of frame indices. Colour and shape never enter it."""
        idx = list(range(frames)) if isinstance(frames, int | np.integer) else list(frames)
        for k in idx:
            if not 0 <= int(k) < self.num_frames:
                raise PlanError(f"frame {k} is outside the plan's {self.num_frames} frames.")
        if height < 1 or width < 1:
            raise PlanError(f"layout size {height}x{width} must be at least 1x1.")
        out = np.zeros((len(idx), height, width), np.int16)
        cy = (np.arange(height) + 0.5) / height
        cx = (np.arange(width) + 0.5) / width
        for j, k in enumerate(idx):
            for i, o in enumerate(self.objects):
                f = o.frames[int(k)]
                if not f.in_frame():
                    continue
                dy = (cy[:, None] - f.y) / max(f.h / 2, 1e-9)
                dx = (cx[None, :] - f.x) / max(f.w / 2, 1e-9)
                inside = dx * dx + dy * dy <= 1.0
                out[j][inside] = i + 1
                if 0 <= f.x < 1 and 0 <= f.y < 1:
                    out[j, int(f.y * height), int(f.x * width)] = i + 1
        return out

    def centres(self) -> np.ndarray:
        """(num_frames, objects, 2) centres (x, y in frame fractions), NaN where not visible."""
        out = np.full((self.num_frames, len(self.objects), 2), np.nan)
        for i, o in enumerate(self.objects):
            for k, f in enumerate(o.frames):
                if f.visible:
                    out[k, i] = (f.x, f.y)
        return out


def state_at(frames: list[ObjectFrame], k: int, fps: int) -> EndState:
    """An object's state at frame ``k``: its position and angle there, its velocity by the
    backward difference from frame k - 1 (zero at frame 0)."""
    last = frames[k]
    prev = frames[k - 1] if k >= 1 else last
    return EndState(last.x, last.y, (last.x - prev.x) * fps, (last.y - prev.y) * fps, last.angle)


# ---------------------------------------------------------------------------- reading


def _frame_count(data: dict, fps: int) -> int:
    """num_frames, from the field or from duration_s (both given: they must agree)."""
    max_frames = int(MAX_SECONDS * fps)
    n = data.get("num_frames")
    if n is not None:
        n = int(schema.number(n, "plan.num_frames", 1, max_frames, whole=True))
    dur = data.get("duration_s")
    if dur is not None:
        dur = schema.number(dur, "plan.duration_s", 0.0, MAX_SECONDS, open_low=True)
        from_dur = max(1, int(round(dur * fps)))
        if n is None:
            n = from_dur
        elif abs(dur - n / fps) > 0.5 / fps:
            raise PlanError(
                f"plan.duration_s is {dur:g} s but plan.num_frames is {n} at {fps} fps "
                f"({n / fps:g} s); give one or make them agree."
            )
    if n is None:
        raise PlanError("plan.num_frames is missing (give num_frames or duration_s).")
    return n


def _flag(value, path: str) -> bool:
    if not isinstance(value, bool):
        raise PlanError(f"{path} must be true or false, got {schema._kind_of(value)}.")
    return value


def _meta(value, path: str) -> dict:
    if not isinstance(value, dict):
        raise PlanError(f"{path} must be an object.")
    return dict(value)


def _coord(value, path: str) -> float:
    return schema.number(value, path, -COORD_LIMIT, COORD_LIMIT)


def _frame(value, path: str) -> ObjectFrame:
    f = schema.obj(value, path, _FRAME_KEYS, ("x", "y", "w", "h"))
    return ObjectFrame(
        _coord(f["x"], f"{path}.x"),
        _coord(f["y"], f"{path}.y"),
        schema.number(f["w"], f"{path}.w", 0.0, SIZE_LIMIT, open_low=True),
        schema.number(f["h"], f"{path}.h", 0.0, SIZE_LIMIT, open_low=True),
        schema.number(f.get("angle", 0.0), f"{path}.angle", -1e6, 1e6),
        _flag(f.get("visible", True), f"{path}.visible"),
    )


def _object(value, path: str, n: int, fps: int) -> PlannedObject:
    o = schema.obj(value, path, ("id", "meta", "frames", "end"), ("id", "frames"))
    oid = int(schema.number(o["id"], f"{path}.id", 0, 10_000, whole=True))
    raw = schema.items(o["frames"], f"{path}.frames", n)
    if len(raw) != n:
        raise PlanError(
            f"{path}.frames has {len(raw)} entries; the plan has {n} frames, one entry each."
        )
    frames = [_frame(f, f"{path}.frames[{k}]") for k, f in enumerate(raw)]
    if not any(f.in_frame() for f in frames):
        raise PlanError(f"{path} is outside the frame (or hidden) in every frame of the plan.")
    if "end" in o:
        e = schema.obj(o["end"], f"{path}.end", _END_KEYS, ("x", "y"))
        end = EndState(
            _coord(e["x"], f"{path}.end.x"),
            _coord(e["y"], f"{path}.end.y"),
            schema.number(e.get("vx", 0.0), f"{path}.end.vx", -1e3, 1e3),
            schema.number(e.get("vy", 0.0), f"{path}.end.vy", -1e3, 1e3),
            schema.number(e.get("angle", 0.0), f"{path}.end.angle", -1e6, 1e6),
        )
    else:  # the last frame, moving as between the last two frames
        end = state_at(frames, n - 1, fps)
    return PlannedObject(oid, frames, end, _meta(o.get("meta", {}), f"{path}.meta"))


def _event(value, path: str, duration_s: float, ids: list[int]) -> ContactEvent:
    keys = ("t_s", "kind", "x", "y", "objects", "surface", "speed")
    e = schema.obj(value, path, keys, ("t_s", "kind", "objects", "surface"))
    t = schema.number(e["t_s"], f"{path}.t_s", 0.0, math.inf)
    if t >= duration_s:
        raise PlanError(f"{path}.t_s is {t:g} s, past the plan's duration of {duration_s:g} s.")
    kind = schema.text(e["kind"], f"{path}.kind", EVENT_KINDS)
    members = schema.items(e["objects"], f"{path}.objects", 2)
    if not members:
        raise PlanError(f"{path}.objects must name at least one object id.")
    for j, m in enumerate(members):
        mid = schema.number(m, f"{path}.objects[{j}]", 0, 10_000, whole=True)
        if mid not in ids:
            raise PlanError(f"{path}.objects[{j}] is {mid}, not the id of an object in the plan.")
    surface = schema.text(e["surface"], f"{path}.surface", SURFACES)
    speed = e.get("speed")
    if speed is not None:
        speed = schema.number(speed, f"{path}.speed", 0.0, 1e3)
    return ContactEvent(
        t,
        kind,
        _coord(e.get("x", 0.5), f"{path}.x"),
        _coord(e.get("y", 0.5), f"{path}.y"),
        [int(m) for m in members],
        surface,
        speed,
    )


def _camera(value, path: str, n: int) -> CameraTrack:
    c = schema.obj(value, path, ("motion", "pan_x", "zoom"), ("motion",))
    motion = schema.text(c["motion"], f"{path}.motion", CAMERA_MOTIONS)
    tracks = {}
    for key, low, high, default in (("pan_x", -1e3, 1e3, 0.0), ("zoom", 0.1, 10.0, 1.0)):
        raw = c.get(key)
        if raw is None:
            tracks[key] = [default] * n
            continue
        raw = schema.items(raw, f"{path}.{key}", n)
        if len(raw) != n:
            raise PlanError(
                f"{path}.{key} has {len(raw)} entries; the plan has {n} frames, one entry each."
            )
        tracks[key] = [schema.number(v, f"{path}.{key}[{k}]", low, high) for k, v in enumerate(raw)]
    return CameraTrack(motion, tracks["pan_x"], tracks["zoom"])


def load_motion_plan(source) -> MotionPlan:
    """A motion plan from a dict, a ``MotionPlan`` or the path of its JSON file."""
    if isinstance(source, MotionPlan):
        return source
    return MotionPlan.from_dict(schema.read_json(source))
