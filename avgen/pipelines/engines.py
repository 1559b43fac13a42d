"""Video engines: which of avgen's own video pipelines a model folder holds, and the short names
of the shipped folders.

The engine is a property of the model folder: its ``pipeline.json`` names the pipeline class
(``_class``; a Phenaki folder also says ``"engine": "phenaki"``), so ``avgen video --model DIR``
loads either kind. ``--engine NAME`` (``engine=`` in the API) is a short name for a shipped
folder: ``dit`` the space-time DiT (``avgen/models/video``, the default), ``phenaki`` the
MaskGIT over C-ViViT tokens (``avgen/models/phenaki``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avgen.errors import AvgenError

# engine name -> the pipeline class its folders' pipeline.json names
ENGINE_CLASSES: dict[str, str] = {"dit": "TextToVideoPipeline", "phenaki": "PhenakiPipeline"}
DEFAULT_ENGINE = "dit"
VIDEO_CLASSES = tuple(ENGINE_CLASSES.values())

__all__ = [
    "DEFAULT_ENGINE",
    "ENGINE_CLASSES",
    "VIDEO_CLASSES",
    "check_engine",
    "engine_loader",
    "engine_model_dir",
    "folder_engine",
]


def check_engine(name: Any) -> str:
    """``name`` if it is a known engine; otherwise one sentence listing them."""
    if not isinstance(name, str) or name not in ENGINE_CLASSES:
        raise AvgenError(
            f"unknown video engine {name!r}; use one of {', '.join(sorted(ENGINE_CLASSES))}."
        )
    return name


def engine_model_dir(name: str) -> Path:
    """The shipped model folder of engine ``name``."""
    if check_engine(name) == "phenaki":
        from avgen.pipelines.phenaki import default_phenaki_model_dir

        return default_phenaki_model_dir()
    from avgen.pipelines.text_to_video import default_video_model_dir

    return default_video_model_dir()


def folder_engine(folder: str | Path) -> str:
    """The engine an avgen video folder's ``pipeline.json`` names (``_class``, or ``engine``).

    A folder without a readable pipeline.json reads as the default engine, whose loader then
    says what is wrong with it; a pipeline.json that names no known video engine is one
    sentence."""
    path = Path(folder) / "pipeline.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return DEFAULT_ENGINE
    if not isinstance(config, dict):
        return DEFAULT_ENGINE
    cls, engine = config.get("_class"), config.get("engine")
    for name, pipeline_class in ENGINE_CLASSES.items():
        if cls == pipeline_class and engine in (None, name):
            return name
    if cls is None and engine in ENGINE_CLASSES:
        return str(engine)
    what = f"engine {engine!r}" if engine is not None else f"pipeline class {cls!r}"
    raise AvgenError(
        f"{path} names no known video engine ({what}); avgen's video folders are "
        f"{' or '.join(repr(c) for c in VIDEO_CLASSES)}."
    )


def engine_loader(name: str) -> Callable[..., Any]:
    """The ``from_pretrained`` of engine ``name``'s pipeline."""
    if check_engine(name) == "phenaki":
        from avgen.pipelines.phenaki import PhenakiPipeline

        return PhenakiPipeline.from_pretrained
    from avgen.pipelines.text_to_video import TextToVideoPipeline

    return TextToVideoPipeline.from_pretrained
