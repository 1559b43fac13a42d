"""Plans: where and when, as data (docs/PLANS.md).

Generation has two stages ("plan, then render"): a plan of notes and beats (audio) or object
trajectories and contacts (video), made from the parsed prompt or given by the user, then a
model that renders it and takes everything else (timbre, colour, shape, scene) from the text.
This package holds the plans' versioned JSON forms with their checks (``schema``), the note
plan (``notes``), the composer that writes one from a prompt (``composer``), MIDI import
(``midi``), the motion plan (``motion``) and the planner that simulates one from a prompt
(``physics``; ``plan_continuation`` starts a story's next shot from the previous
shot's end state).
"""

from avgen.plan.composer import compose_notes
from avgen.plan.midi import notes_from_midi
from avgen.plan.motion import MotionPlan, load_motion_plan
from avgen.plan.notes import NotePlan, load_note_plan
from avgen.plan.physics import plan_continuation, plan_from_motion_truth, plan_motion
from avgen.plan.schema import PLAN_VERSION, PlanError

__all__ = [
    "PLAN_VERSION",
    "MotionPlan",
    "NotePlan",
    "PlanError",
    "compose_notes",
    "load_motion_plan",
    "load_note_plan",
    "notes_from_midi",
    "plan_continuation",
    "plan_from_motion_truth",
    "plan_motion",
]
