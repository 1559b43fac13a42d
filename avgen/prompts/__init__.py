"""Layered prompts: build, parse and lint text-to-audio and text-to-video prompts.

The layering is the prompt guide's (course lesson 11, "Prompt Design Strategies"): an audio
prompt gives genre/mood, then details, then length/tempo; a video prompt gives scene, then
motion, then style/camera. The parser maps a prompt onto the worlds' vocabulary
(``avgen/vocab.py``, docs/WORLDS.md) in the schema of docs/CONTRACTS.md section 1, so the
duration, tempo and speed it finds can feed the generation parameters and the analytic checkers.

- ``builder``: ``build_audio_prompt``, ``build_video_prompt``, ``check_duration``;
- ``lexicon``: every vocabulary phrase and its readings (``LEXICON``);
- ``parser``: ``parse_prompt`` -> ``ParsedPrompt``, ``tempo_class_of``;
- ``linter``: ``lint_prompt`` -> ``LintReport``, ``read_model_vocabulary``.
"""

from avgen.prompts.builder import (
    AUDIO_LAYERS,
    MAX_BPM,
    MAX_DURATION_S,
    VIDEO_LAYERS,
    build_audio_prompt,
    build_video_prompt,
    check_duration,
)
from avgen.prompts.lexicon import LEXICON, _phrase
from avgen.prompts.linter import (
    LintReport,
    find_model_card,
    lint_prompt,
    read_model_vocabulary,
)
from avgen.prompts.parser import ParsedObject, ParsedPrompt, parse_prompt, tempo_class_of

__all__ = [
    "AUDIO_LAYERS",
    "LEXICON",
    "MAX_BPM",
    "MAX_DURATION_S",
    "VIDEO_LAYERS",
    "LintReport",
    "ParsedObject",
    "ParsedPrompt",
    "_phrase",
    "build_audio_prompt",
    "build_video_prompt",
    "check_duration",
    "find_model_card",
    "lint_prompt",
    "parse_prompt",
    "read_model_vocabulary",
    "tempo_class_of",
]
