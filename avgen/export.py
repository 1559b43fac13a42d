"""Export avgen's audio model as a diffusers folder, and read such a folder back into avgen.

``export_audio(out)`` writes the layout of a Hugging Face diffusers checkpoint
(``model_index.json`` + one subfolder per component, as ``DiffusionPipeline.save_pretrained``
writes it):

- ``text_encoder/`` the frozen all-MiniLM-L6-v2 as transformers' ``BertModel`` (it is a
  6-layer, 384-wide BERT), ``tokenizer/`` its ``BertTokenizer``; the tokenizer files are also
  copied into ``text_encoder/`` so that ``avgen.text.TextEncoder`` loads that folder alone;
- ``scheduler/`` diffusers' ``FlowMatchEulerDiscreteScheduler`` (SD3's rectified flow, arXiv
  2403.03206): its sigma is avgen's t, with the same interpolation, velocity target and Euler
  step (the convention of ``avgen.diffusion``), and its ``shift`` is pipeline.json's. avgen's
  grid for N steps is ``set_timesteps(sigmas=linspace(1, 1/N, N))`` (the scheduler applies the
  shift and appends 0), as diffusers' Flux pipeline does;
- ``vae/``, ``denoiser/``, ``vocoder/``, ``clap/`` avgen's own models behind thin diffusers
  ``ModelMixin`` + ``ConfigMixin`` wrappers of this module (config.json = the avgen
  constructor's arguments, ``diffusion_pytorch_model.safetensors`` = avgen's weights under the
  prefix ``model.``, stored in the source checkpoint's dtype);
- ``model_index.json`` with ``_class_name`` "AvgenAudioPipeline", the components as
  ``["avgen.export", "AvgenMelVAE"]`` etc., and pipeline.json's defaults.

``AvgenAudioPipeline.from_pretrained(out)`` (``avgen.pipelines.exported_audio``; also
importable from here, as the ``pipeline.py`` of folders exported before it moved expects) loads
it through diffusers' own loader (components of a library outside diffusers/transformers load
once the caller has imported that module, diffusers 0.42's ``_get_library_or_raise``) and
generates the same audio as avgen's ``TextToAudioPipeline`` for the same seed, with the
diffusers scheduler and the transformers text encoder in the loop. A plain
``DiffusionPipeline.from_pretrained(out)`` cannot: it looks ``_class_name`` up among diffusers'
own classes only; ``pipeline.py`` (one import line) lets it load with
``custom_pipeline="pipeline", trust_remote_code=True``. ``load_exported(out)`` reads the folder
back as avgen's ``TextToAudioPipeline``; ``to_avgen_folder`` writes avgen's layout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
from diffusers import ConfigMixin, FlowMatchEulerDiscreteScheduler, ModelMixin
from safetensors import safe_open
from safetensors.torch import load_file

from avgen.audio.clap import CLAP
from avgen.audio.denoiser import AudioDenoiser
from avgen.audio.vae import MelVAE
from avgen.audio.vocoder import Vocoder
from avgen.errors import AvgenError
from avgen.files import temp_path
from avgen.modeling import RENAMED_KEYS, PretrainedModel

# the pipeline class lives beside the other pipelines; folders exported before it moved carry a
# pipeline.py that imports it from here, so it stays importable from avgen.export
from avgen.pipelines.exported_audio import PIPELINE_KEYS, AvgenAudioPipeline
from avgen.ranges import spell

KINDS = ("audio",)
FORMATS = ("diffusers",)
PIPELINE_CLASS = "AvgenAudioPipeline"
INDEX_NAME = "model_index.json"
WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"
NUM_TRAIN_TIMESTEPS = 1000  # diffusers' timestep = sigma * 1000; avgen's models take sigma itself
CUSTOM_PIPELINE_CODE = '''"""This folder's pipeline class, avgen's (avgen must be installed), for
DiffusionPipeline.from_pretrained(folder, custom_pipeline="pipeline", trust_remote_code=True)."""

from avgen.pipelines.exported_audio import AvgenAudioPipeline

__all__ = ["AvgenAudioPipeline"]
'''


# --------------------------------------------------------------------------- model wrappers


class _AvgenModel(ModelMixin, ConfigMixin):
    """Shared part of the wrappers: ``self.model`` is the avgen model, built from the config.

    The keyword arguments are the avgen model's config fields (``avgen_class.config_class``;
    the names of avgen 0.1 are accepted, so folders exported then still load); the wrapper's
    ``config.json`` records the avgen config under today's names.
    """

    avgen_class: type[PretrainedModel]
    model: PretrainedModel

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.model = self.avgen_class(**kwargs)
        self.register_to_config(**self.model.config.to_dict())

    @classmethod
    def extract_init_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> tuple:
        """All of config.json's public keys go to ``__init__`` (diffusers would keep only
        the names in ``__init__``'s signature)."""
        fields = {k: v for k, v in config_dict.items() if not k.startswith("_")}
        names = {f.name for f in dataclasses.fields(cls.avgen_class.config_class)}
        names |= set(RENAMED_KEYS.get(cls.avgen_class.__name__, {}))
        init = {k: v for k, v in {**fields, **kwargs}.items() if k in names}
        unused = {k: v for k, v in kwargs.items() if k not in names}
        return init, unused, {}

    @classmethod
    def from_avgen(cls, model: PretrainedModel) -> _AvgenModel:
        """Wrap a loaded avgen model (its config and a copy of its weights)."""
        if not isinstance(model, cls.avgen_class):
            raise AvgenError(
                f"{cls.__name__} wraps a {cls.avgen_class.__name__}, got {type(model).__name__}."
            )
        wrapper = cls(**model.config)
        wrapper.model.load_state_dict(model.state_dict())
        return wrapper.eval()


class AvgenMelVAE(_AvgenModel):
    """avgen's ``MelVAE`` (AudioLDM's 4x mel KL autoencoder, arXiv 2301.12503) for diffusers."""

    avgen_class = MelVAE

    def encode(self, mel: torch.Tensor) -> torch.Tensor:
        """Normalised mel (B, 1, n_mels, F) -> scaled diffusion latent (B, C, n_mels/4, F/4)."""
        return self.model.to_diffusion(mel)

    def decode(self, latents: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """Scaled diffusion latent (B, C, n_mels/4, F') -> normalised mel (B, 1, n_mels, 4 F')."""
        return self.model.from_diffusion(latents, frames)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Reconstruction through the posterior mean (B, 1, n_mels, F)."""
        return self.decode(self.encode(mel), mel.shape[-1])


class AvgenAudioDenoiser(_AvgenModel):
    """avgen's ``AudioDenoiser`` (1-D DiT, arXiv 2212.09748, rectified-flow velocity) for
    diffusers: ``timestep`` is the flow time t = sigma in [0, 1], not sigma * 1000."""

    avgen_class = AudioDenoiser

    def null_condition(self, batch: int, device: torch.device | str | None = None) -> dict:
        """The unconditional text condition (see ``AudioDenoiser.null_condition``)."""
        return self.model.null_condition(batch, device)

    def forward(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor,
        pooled_projections: torch.Tensor,
        tempo: torch.Tensor | None = None,
        seconds: torch.Tensor | None = None,
        beat: torch.Tensor | None = None,
        frame_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Velocity noise - x0 (B, C, F, T') of latents (B, C, F, T') at flow time (B,)."""
        cond: dict[str, torch.Tensor] = {
            "tokens": encoder_hidden_states,
            "mask": encoder_attention_mask,
            "pooled": pooled_projections,
        }
        extra = {"tempo": tempo, "seconds": seconds, "beat": beat, "frame_mask": frame_mask}
        cond.update({k: v for k, v in extra.items() if v is not None})
        return self.model(hidden_states, timestep, cond)


class AvgenVocoder(_AvgenModel):
    """avgen's Vocos-style ``Vocoder`` (arXiv 2306.00814) for diffusers."""

    avgen_class = Vocoder

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Normalised mel (B, 1, n_mels, F) -> waveform (B, F * hop) at 16 kHz."""
        return self.model(mel)


class AvgenCLAP(_AvgenModel):
    """avgen's ``CLAP``-style text-audio model (arXiv 2206.04769) for diffusers."""

    avgen_class = CLAP

    def forward(self, mel: torch.Tensor, pooled_text: torch.Tensor) -> torch.Tensor:
        """Cosine scores (B_audio, B_text) of mels (B, 1, n_mels, F) against MiniLM vectors."""
        return self.model.score(self.model.encode_audio(mel), self.model.encode_text(pooled_text))


WRAPPERS: dict[str, type[_AvgenModel]] = {
    "vae": AvgenMelVAE,
    "denoiser": AvgenAudioDenoiser,
    "vocoder": AvgenVocoder,
    "clap": AvgenCLAP,
}
OPTIONAL = ("vocoder", "clap")


# --------------------------------------------------------------------------- export / import


def _stored_dtype(weights: Path) -> torch.dtype:
    """The dtype of the first floating tensor in a safetensors file (float32 if none)."""
    names = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32}
    with safe_open(str(weights), framework="pt") as f:
        for key in f.keys():
            dtype = names.get(f.get_slice(key).get_dtype())
            if dtype is not None:
                return dtype
    return torch.float32


def _temp_beside(out: Path) -> Path:
    """A fresh temporary folder next to ``out`` (same file system, so the rename is atomic)."""
    tmp = temp_path(out)  # pid and random bits: two exports of one folder never collide
    if tmp.exists():
        shutil.rmtree(tmp)
    return tmp


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AvgenError(f"{out} already exists and is not an empty folder; choose a new one.")
    if not out.parent.is_dir():
        raise AvgenError(f"the parent folder {out.parent} does not exist; create it first.")


def _publish(tmp: Path, out: Path) -> Path:
    """Rename the finished temporary folder to ``out`` (an empty ``out`` is replaced)."""
    if out.is_dir():
        out.rmdir()
    tmp.replace(out)
    return out


def build_pipeline(model: str | Path | None = None) -> AvgenAudioPipeline:
    """avgen's audio model folder (default: the shipped one) as an ``AvgenAudioPipeline``."""
    from avgen.pipelines.text_to_audio import TextToAudioPipeline

    src = TextToAudioPipeline.from_pretrained(model)
    encoder = src.text_encoder  # the bundled frozen MiniLM (avgen.text.TextEncoder)
    settings = src.config
    modules = {
        name: WRAPPERS[name].from_avgen(getattr(src, name))
        for name in WRAPPERS
        if getattr(src, name) is not None
    }
    scheduler = FlowMatchEulerDiscreteScheduler(
        num_train_timesteps=NUM_TRAIN_TIMESTEPS, shift=float(settings["shift"])
    )
    return AvgenAudioPipeline(
        text_encoder=encoder.model,
        tokenizer=encoder.tokenizer,
        scheduler=scheduler,
        **modules,
        **{name: settings[key] for key, name in PIPELINE_KEYS.items()},
    )


def export_audio(out: str | Path, model: str | Path | None = None) -> Path:
    """Write avgen's audio model (``model`` folder, default the shipped one) to ``out`` in the
    diffusers layout (module docstring); nothing is left at ``out`` if anything fails."""
    from avgen.pipelines.text_to_audio import default_audio_model_dir

    out = Path(out)
    _check_out(out)
    src = default_audio_model_dir() if model is None else Path(model)
    pipe = build_pipeline(model)
    tmp = _temp_beside(out)
    try:
        for name in WRAPPERS:  # keep the source checkpoint's storage dtype (shipped: float16)
            weights = src / name / "model.safetensors"
            if getattr(pipe, name) is not None and weights.is_file():
                # nn.Module.to: ModelMixin.to warns about fp32-kept modules (there are none)
                torch.nn.Module.to(getattr(pipe, name), _stored_dtype(weights))
        pipe.save_pretrained(str(tmp), safe_serialization=True)
        pipe.tokenizer.save_pretrained(str(tmp / "text_encoder"))  # for avgen's TextEncoder
        (tmp / "pipeline.py").write_text(CUSTOM_PIPELINE_CODE)
        return _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_index(folder: str | Path) -> dict[str, Any]:
    """``model_index.json`` of an exported folder; AvgenError if it is not one."""
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        raise AvgenError(f"{folder} has no {INDEX_NAME}: not an exported avgen audio model.")
    index = _json_object(path)
    if index.get("_class_name") != PIPELINE_CLASS:
        found = index.get("_class_name") if isinstance(index, dict) else None
        raise AvgenError(f"{path} describes a {found or 'foreign'} pipeline, not {PIPELINE_CLASS}.")
    return index


def _json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; AvgenError for a file that is not one (binary, not JSON,
    a list, nested too deep)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise AvgenError(f"{path} is not valid JSON ({exc.__class__.__name__}).") from None
    if not isinstance(data, dict):
        raise AvgenError(f"{path} does not hold a JSON object, so it is not an avgen export.")
    return data


def _load_component(folder: Path, name: str, device: str | torch.device) -> PretrainedModel:
    """One wrapper folder (config.json + diffusion_pytorch_model.safetensors) as avgen's model,
    without diffusers: the config minus its ``_`` keys is the avgen constructor's arguments."""
    wrapper = WRAPPERS[name]
    cfg_path, weights = folder / name / "config.json", folder / name / WEIGHTS_NAME
    if not cfg_path.is_file() or not weights.is_file():
        raise AvgenError(f"{folder / name} lacks config.json or {WEIGHTS_NAME}.")
    config = _json_object(cfg_path)
    if config.get("_class_name") != wrapper.__name__:
        found = spell(config.get("_class_name"))
        raise AvgenError(f"{cfg_path} holds a {found}, not {wrapper.__name__}.")
    fields = {k: v for k, v in config.items() if not k.startswith("_")}
    known = set(wrapper.avgen_class.config_class.__dataclass_fields__)
    known |= set(RENAMED_KEYS.get(wrapper.avgen_class.config_class.model_name, {}))
    unknown = sorted(set(fields) - known)
    if unknown:
        raise AvgenError(f"{cfg_path} has a field {spell(unknown[0])} that {name} does not take.")
    try:
        model = wrapper.avgen_class(**fields)
    except AvgenError as exc:
        raise AvgenError(f"{cfg_path}: {exc}") from None
    except (TypeError, ValueError, RuntimeError, ZeroDivisionError) as exc:
        raise AvgenError(f"{cfg_path} does not fit {name}: {exc}.") from None
    try:
        state = load_file(str(weights), device=str(device))
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise AvgenError(f"{weights} is not a readable safetensors file ({exc}).") from None
    if not all(k.startswith("model.") for k in state):
        raise AvgenError(f"{weights} has tensors outside 'model.'; it is not an avgen export.")
    try:
        missing, unexpected = model.load_state_dict(
            {k[6:]: v for k, v in state.items()}, strict=False
        )
    except RuntimeError:  # a tensor whose shape the config does not give
        raise AvgenError(f"{weights} does not fit {cfg_path}: a tensor's shape differs.") from None
    if missing or unexpected:
        raise AvgenError(
            f"{weights} does not match {wrapper.avgen_class.__name__}: "
            f"{len(missing)} missing and {len(unexpected)} unexpected tensors."
        )
    return model.to(device).eval()


def load_exported(
    folder: str | Path,
    *,
    device: str | torch.device = "cpu",
    text_encoder: Any = None,
    lora: str | Path | None = None,
) -> Any:
    """An exported folder as avgen's ``TextToAudioPipeline`` (all features, audio-to-audio
    included), without diffusers' loader; the keywords are ``TextToAudioPipeline
    .from_pretrained``'s. The text encoder is ``text_encoder`` if given, else the folder's
    ``text_encoder/``; ``lora`` is merged into the denoiser (``load_lora``)."""
    from avgen.pipelines.text_to_audio import DEFAULTS, TextToAudioPipeline
    from avgen.text import TextEncoder

    folder = Path(folder)
    index = read_index(folder)
    parts: dict[str, Any] = {}
    for name in WRAPPERS:
        entry = index.get(name)
        present = isinstance(entry, list) and entry[:1] != [None] and (folder / name).is_dir()
        if not present and name not in OPTIONAL:
            raise AvgenError(f"{folder} has no {name}/ component; the export is incomplete.")
        parts[name] = _load_component(folder, name, device) if present else None
    config = {key: index[name] for key, name in PIPELINE_KEYS.items() if name in index}
    sched_path = folder / "scheduler" / "scheduler_config.json"
    if sched_path.is_file():
        shift = _json_object(sched_path).get("shift", DEFAULTS["shift"])
        if isinstance(shift, bool) or not isinstance(shift, int | float) or not 0 < shift < 1e6:
            raise AvgenError(
                f"{sched_path}: 'shift' must be a positive number, got {spell(shift)}."
            )
        config["shift"] = float(shift)
    if text_encoder is None:
        text_encoder = TextEncoder(folder / "text_encoder", device=device)
    pipe = TextToAudioPipeline(
        parts["vae"],
        parts["vocoder"],
        parts["denoiser"],
        parts["clap"],
        text_encoder=text_encoder,
        config=config,
        model_id=str(folder),
    )
    if lora is not None:
        pipe.load_lora(lora)
    return pipe.to(device)


def to_avgen_folder(folder: str | Path, out: str | Path) -> Path:
    """Write an exported folder back in avgen's layout (pipeline.json + vae/ denoiser/ vocoder/
    clap/, float32 weights); the text encoder is not copied (avgen uses the bundled MiniLM)."""
    out = Path(out)
    _check_out(out)
    pipe = load_exported(folder)
    tmp = _temp_beside(out)
    try:
        tmp.mkdir()
        pipe.save_pretrained(tmp)
        return _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise AvgenError(f"{message} (usage: avgen export audio --format diffusers OUT).")


def main(argv: list[str] | None = None) -> int:
    """``avgen export audio --format diffusers OUT [--model SRC]``: prints OUT."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in KINDS:
        what = argv[0] if argv else "(nothing)"
        raise AvgenError(
            f"'avgen export {what}' is not available; only 'avgen export audio --format "
            "diffusers OUT' is."
        )
    p = _Parser(prog="avgen export audio", add_help=False)
    p.add_argument("out", type=Path)
    p.add_argument("--format", required=True)
    p.add_argument("--model", default=None)
    args = p.parse_args(argv[1:])
    if args.format not in FORMATS:
        raise AvgenError(
            f"export format {args.format!r} is not available; use one of {', '.join(FORMATS)}."
        )
    print(export_audio(args.out, args.model))
    return 0
