"""Plumbing shared by the diffusers adapters: run a LOCAL Hugging Face diffusers pipeline folder.

A diffusers pipeline folder (what ``DiffusionPipeline.save_pretrained`` writes and what a Hub
snapshot holds) is ``model_index.json`` (``_class_name`` + one ``[library, class]`` per
component) plus one subfolder per component. ``load_diffusers_pipeline`` checks the folder
before diffusers sees it (one AvgenError naming the first missing file, or the unsupported
pipeline class and the supported ones), then loads it with ``local_files_only=True`` while
``huggingface_hub`` is held in offline mode, so loading never reaches for a network. GPU
options map onto diffusers' own switches: ``dtype`` -> ``torch_dtype`` at load,
``cpu_offload`` -> ``enable_model_cpu_offload``, ``vae_slicing`` / ``vae_tiling`` ->
``vae.enable_slicing()`` / ``vae.enable_tiling()`` where the VAE has them (else a warning).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from avgen.errors import AvgenError

MODEL_INDEX = "model_index.json"
DTYPES: dict[str, torch.dtype] = {
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}
# files that make a component loadable, by kind (the first one is named when all are missing)
TOKENIZER_FILES = (
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.json",
    "spiece.model",
    "vocab.txt",
)
WEIGHT_SUFFIXES = (".safetensors", ".bin")


def is_diffusers_folder(path: str | Path | None) -> bool:
    """True when ``path`` is a folder holding a ``model_index.json`` (a diffusers pipeline)."""
    if path is None:
        return False
    path = Path(path)
    return path.is_dir() and (path / MODEL_INDEX).is_file()


def read_model_index(path: str | Path) -> dict[str, Any]:
    """The parsed ``model_index.json`` of a folder (or the file itself); AvgenError if it is
    not a JSON object naming its pipeline in ``_class_name``."""
    path = Path(path)
    file = path / MODEL_INDEX if path.is_dir() else path
    try:
        index = json.loads(file.read_text())
    except FileNotFoundError as exc:
        raise AvgenError(f"{file} does not exist: a diffusers folder needs one.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AvgenError(f"{file} is not valid JSON ({exc.__class__.__name__}).") from exc
    if not isinstance(index, dict) or not isinstance(index.get("_class_name"), str):
        raise AvgenError(f"{file} names no pipeline class (its _class_name is missing).")
    return index


def components(index: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The present components of a model index: name -> (library, class); None entries
    (an optional component left out) are skipped."""
    out = {}
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2:
            continue
        if spec[0] is None or spec[1] is None:
            continue
        out[name] = (str(spec[0]), str(spec[1]))
    return out


def component_kind(class_name: str) -> str:
    """ "scheduler", "tokenizer", "processor" or "model", from the component's class name."""
    if "Scheduler" in class_name:
        return "scheduler"
    if "Tokenizer" in class_name:
        return "tokenizer"
    if class_name.endswith(("FeatureExtractor", "Processor")):
        return "processor"
    return "model"


def _missing(path: Path, name: str, class_name: str, pipeline: str) -> AvgenError:
    return AvgenError(
        f"{path} is missing: the {name} component ({class_name}) of this {pipeline} folder "
        "needs it."
    )


def check_component_files(folder: str | Path, index: dict[str, Any]) -> None:
    """Raise one AvgenError naming the first file a component needs and lacks.

    Models need ``config.json`` and weights (``*.safetensors`` / ``*.bin``, every shard an
    ``*.index.json`` lists); schedulers ``scheduler_config.json``; tokenizers a tokenizer file;
    feature extractors ``preprocessor_config.json``.
    """
    folder = Path(folder)
    pipeline = str(index.get("_class_name"))
    for name, (library, class_name) in components(index).items():
        sub = folder / name
        if not sub.is_dir():
            raise _missing(sub, name, class_name, pipeline)
        kind = component_kind(class_name)
        if kind == "scheduler":
            needed = ["scheduler_config.json"]
        elif kind == "processor":
            needed = ["preprocessor_config.json"]
        elif kind == "tokenizer":
            if not any((sub / f).is_file() for f in TOKENIZER_FILES):
                raise _missing(sub / TOKENIZER_FILES[0], name, class_name, pipeline)
            continue
        else:
            needed = ["config.json"]
        for f in needed:
            if not (sub / f).is_file():
                raise _missing(sub / f, name, class_name, pipeline)
        if kind == "model":
            _check_weights(sub, name, class_name, pipeline, library)


def _check_weights(sub: Path, name: str, class_name: str, pipeline: str, library: str) -> None:
    for index_file in sorted(sub.glob("*.index.json")):
        try:
            shards = set(json.loads(index_file.read_text()).get("weight_map", {}).values())
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
            raise AvgenError(f"{index_file} is not a valid weight index (JSON).") from exc
        for shard in sorted(shards):
            if not (sub / shard).is_file():
                raise _missing(sub / shard, name, class_name, pipeline)
        return
    if not any(p.suffix in WEIGHT_SUFFIXES for p in sub.iterdir() if p.is_file()):
        stem = "model" if library == "transformers" else "diffusion_pytorch_model"
        raise _missing(sub / f"{stem}.safetensors", name, class_name, pipeline)


def torch_dtype(name: str) -> torch.dtype:
    """``fp32`` / ``fp16`` / ``bf16`` -> the torch dtype the weights are loaded in."""
    if name not in DTYPES:
        raise AvgenError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}.")
    return DTYPES[name]


def check_load_options(device: str, dtype: str, cpu_offload: bool) -> None:
    """fp16 needs a GPU (half-precision kernels on CPUs are missing or slow and overflow-prone:
    a clear error rather than a silent fallback); CPU offload needs a GPU to offload from."""
    torch_dtype(dtype)
    kind = str(device).split(":")[0]
    if cpu_offload and kind == "cpu":
        raise AvgenError(
            f"cpu_offload needs a GPU device (cuda, cuda:N or mps), got {device!r}; "
            "drop --cpu-offload on a CPU."
        )
    if dtype == "fp16" and kind == "cpu":
        raise AvgenError(
            "dtype fp16 is not supported on the CPU for diffusers model folders; "
            "use fp32 or bf16 there, or fp16 on a GPU device."
        )


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Hold huggingface_hub (used by diffusers and transformers) in offline mode, so any
    attempted download fails at once instead of touching the network."""
    import huggingface_hub.constants as hub

    saved_env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    saved = hub.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    hub.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE = saved
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading pipeline components" / "Loading weights" bars from the libraries."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    d_off, t_off = not dlog.is_progress_bar_enabled(), not tlog.is_progress_bar_enabled()
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if not d_off:
            dlog.enable_progress_bar()
        if not t_off:
            tlog.enable_progress_bar()


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_error(folder: Path, class_name: str, exc: BaseException) -> AvgenError:
    text = _one_line(exc)
    package = re.search(r"requires the (\w+) library", text) or re.search(
        r"pip install ([\w\-]+)", text
    )
    if isinstance(exc, ImportError) and package:
        name = package.group(1)
        what = re.match(r"(\w+) requires", text)
        needs = f"{what.group(1)} " if what else ""
        return AvgenError(
            f"cannot load the {class_name} folder {folder}: its {needs}needs the Python package "
            f"{name!r}, which is not installed (pip install {name})."
        )
    return AvgenError(
        f"cannot load the {class_name} folder {folder} with diffusers: "
        f"{exc.__class__.__name__}: {text.rstrip('.')}."
    )


def load_diffusers_pipeline(
    folder: str | Path,
    *,
    device: str = "cpu",
    dtype: str = "fp32",
    cpu_offload: bool = False,
    vae_slicing: bool = False,
    vae_tiling: bool = False,
    allowed: dict[str, str],
    overrides: Callable[[Path, dict[str, Any], torch.dtype], dict[str, Any]] | None = None,
    prepare: Callable[[Any], None] | None = None,
) -> Any:
    """Load a local diffusers pipeline folder whose ``_class_name`` is a key of ``allowed``
    (class name -> family name, for the error message), offline, ready on ``device``.

    ``overrides(folder, index, torch_dtype)`` may return components to pass to
    ``from_pretrained`` instead of the saved ones (a fix for a library version break);
    ``prepare(pipe)`` runs after loading and before the pipeline is placed on its device
    (e.g. merging a LoRA adapter into its UNet).
    """
    folder = Path(folder)
    if not is_diffusers_folder(folder):
        raise AvgenError(f"{folder} is not a diffusers pipeline folder: it has no {MODEL_INDEX}.")
    index = read_model_index(folder)
    class_name = index["_class_name"]
    if class_name not in allowed:
        supported = ", ".join(f"{k} ({v})" for k, v in allowed.items())
        raise AvgenError(
            f"{folder} holds a {class_name}, which avgen cannot run here; supported: {supported}."
        )
    check_component_files(folder, index)
    check_load_options(device, dtype, cpu_offload)
    import diffusers

    pipeline_cls = getattr(diffusers, class_name, None)
    if pipeline_cls is None:
        raise AvgenError(
            f"the installed diffusers {diffusers.__version__} has no {class_name}; "
            "it cannot load this folder."
        )
    dt = torch_dtype(dtype)
    with offline(), _quiet_loading():
        try:
            extra = overrides(folder, index, dt) if overrides is not None else {}
            pipe = pipeline_cls.from_pretrained(folder, dtype=dt, local_files_only=True, **extra)
        except AvgenError:
            raise
        except (ImportError, OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
            raise _load_error(folder, class_name, exc) from exc
        except AttributeError as exc:  # e.g. a component class that moved between versions
            raise _load_error(folder, class_name, exc) from exc
    if prepare is not None:
        prepare(pipe)
    pipe.set_progress_bar_config(disable=True)
    try:
        if cpu_offload:
            pipe.enable_model_cpu_offload(device=device)
        else:
            pipe.to(device)
    except (RuntimeError, ValueError, AssertionError) as exc:
        raise AvgenError(
            f"cannot place {class_name} on device {device!r}: {_one_line(exc)}"
        ) from exc
    if vae_slicing:
        enable_vae_option(pipe, "slicing")
    if vae_tiling:
        enable_vae_option(pipe, "tiling")
    return pipe


def enable_vae_option(pipe: Any, what: str) -> bool:
    """Turn on the VAE's sliced or tiled decoding where it has one; otherwise warn and go on."""
    vae = getattr(pipe, "vae", None)
    if vae is not None and hasattr(vae, f"use_{what}") and hasattr(vae, f"enable_{what}"):
        getattr(vae, f"enable_{what}")()
        return True
    owner = type(vae).__name__ if vae is not None else "no VAE"
    warnings.warn(
        f"vae_{what} has no effect: {type(pipe).__name__} ({owner}) has no {what} decoding.",
        UserWarning,
        stacklevel=3,
    )
    return False


def call_defaults(pipe: Any, *names: str) -> dict[str, Any]:
    """The default values of ``pipe.__call__``'s arguments ``names`` (the pipeline's own
    recommended steps and guidance), None where it has no default."""
    params = inspect.signature(pipe.__call__).parameters
    out = {}
    for name in names:
        p = params.get(name)
        out[name] = None if p is None or p.default is inspect.Parameter.empty else p.default
    return out


def progress_kwargs(
    pipe: Any, callback: Callable[[int, int], None] | None, total: int
) -> dict[str, Any]:
    """Keyword arguments that make ``pipe(...)`` report ``callback(step_done, total)`` after
    every denoising step: ``callback_on_step_end`` where the pipeline has it, else the older
    ``callback`` + ``callback_steps=1``, else nothing."""
    if callback is None:
        return {}
    params = inspect.signature(pipe.__call__).parameters

    def report(i: int) -> None:
        callback(min(int(i) + 1, total), total)

    if "callback_on_step_end" in params:

        def on_step_end(_pipe: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            report(i)
            return {}

        return {"callback_on_step_end": on_step_end}
    if "callback" in params:
        kwargs: dict[str, Any] = {"callback": lambda i, t, latents: report(i)}
        if "callback_steps" in params:
            kwargs["callback_steps"] = 1
        return kwargs
    return {}
