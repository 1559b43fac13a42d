"""The AV chain behind ``avgen.api.generate_av``, on loaded pipelines: picture first, then the
events it shows, then the soundtrack on them.

1. the picture: the video pipeline renders the picture words (following the motion plan when
   its model reads plans);
2. the events: the plan's contact events when the picture was rendered from a plan, else the
   events ``avgen.av.events.detect_events`` finds in the frames (the prompt's object colours
   narrow the search);
3. the soundtrack: ``avgen.av.soundtrack.make_soundtrack`` generates an impact per kind of event
   and the bed from the sound words, and mixes them to the picture's exact duration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from avgen.av.events import Event, detect_events, plan_events
from avgen.av.soundtrack import Soundtrack, make_soundtrack
from avgen.av.split import SplitPrompt


@dataclass
class AVResult:
    """Frames (F, H, W, 3) uint8 at ``fps``, the soundtrack, the events and where they came
    from ("plan" or "detected"), and the video pipeline's own output settings."""

    frames: np.ndarray
    fps: int
    soundtrack: Soundtrack
    events: list[Event]
    events_source: str
    video_settings: dict = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        st = self.soundtrack
        return {
            "events_source": self.events_source,
            "events": [e.to_dict() for e in self.events],
            "impacts": st.impacts,
            "one_shots": st.one_shots,
            "bed": st.bed,
            "sample_rate": st.sample_rate,
        }


def object_colours(prompt: str) -> list[tuple[int, int, int]] | None:
    """RGB of the object colours a video prompt names (None when it names none)."""
    from avgen.prompts import parse_prompt
    from avgen.vocab import COLOURS

    names = []
    for obj in parse_prompt(prompt).objects:
        if obj.colour in COLOURS and obj.colour not in names:
            names.append(obj.colour)
    return [COLOURS[n].rgb for n in names] or None


def find_events(frames: np.ndarray, fps: float, plan: Any, video_prompt: str) -> tuple[list, str]:
    """The events of a rendered clip: its plan's when it was rendered from one, else detected."""
    if plan is not None:
        return plan_events(plan), "plan"
    return detect_events(frames, fps, object_colours(video_prompt)), "detected"


def render_av(
    video_pipe: Any,
    audio_pipe: Any,
    split: SplitPrompt,
    video_call: dict[str, Any],
    *,
    plan: Any,
    seed: int,
    scene: str | None,
    run_video: Any,
    audio_options: dict[str, Any] | None = None,
) -> AVResult:
    """Steps 1-3. ``run_video(**call)`` runs the video pipeline (the API's progress wrapper);
    ``video_call`` its keyword arguments; ``plan`` the motion plan it follows (or None)."""
    import torch

    result = run_video(generator=torch.Generator().manual_seed(seed), **video_call)  # 1
    frames = np.asarray(result.frames)
    fps = int(video_call["fps"])
    events, source = find_events(frames, fps, plan, split.video)  # 2
    duration = frames.shape[0] / fps
    soundtrack = make_soundtrack(  # 3
        audio_pipe,
        events,
        duration,
        bed_prompt=split.bed,
        music=split.music,
        scene=scene,
        seed=seed,
        **(audio_options or {}),
    )
    return AVResult(frames, fps, soundtrack, events, source, dict(result.settings))
