"""Plans: where and when, as data (docs/PLANS.md).

Generation has two stages ("plan, then render"): a plan of notes and beats (audio) or object
trajectories and contacts (video), made from the parsed prompt or given by the user, then a
model that renders it and takes everything else (timbre, colour, shape, scene) from the text.
This package holds the plans' versioned JSON forms with their checks (``schema``), the note
plan (``notes``), the composer that writes one from a prompt (``composer``) and MIDI import
(``midi``).
"""

from avgen.plan.composer import compose_notes
from avgen.plan.midi import notes_from_midi
from avgen.plan.notes import NotePlan, load_note_plan
from avgen.plan.schema import PLAN_VERSION, PlanError

__all__ = [
    "PLAN_VERSION",
    "NotePlan",
    "PlanError",
    "compose_notes",
    "load_note_plan",
    "notes_from_midi",
]
