"""LoRA adapters (Hu et al., arXiv 2106.09685) for avgen's audio denoiser and diffusers UNets.

The inference side of ``avgen finetune``: the trainer (``avgen.lora.train``) writes an adapter
folder, and ``apply_lora(module, folder)`` puts it into a loaded denoiser or UNet; pipelines
import this side (``avgen.lora``) and never the trainer. The LoRA layers are peft's
(``inject_adapter_in_model``); after loading, each one is merged into its base Linear and
unloaded, so a model with an adapter runs exactly as fast as one without.

An adapter folder holds peft's ``save_pretrained`` layout plus avgen's record of its base:

- ``adapter_config.json``: peft's ``LoraConfig`` (``r``, ``lora_alpha``, ``target_modules``);
- ``adapter_model.safetensors``: the LoRA matrices, keys
  ``base_model.model.<module>.lora_A.weight`` (r, in) and ``...lora_B.weight`` (out, r), so
  ``peft.PeftModel.from_pretrained(base, folder)`` reads the folder too;
- ``avgen_adapter.json``: which base it was trained on (kind, pipeline and module class, a hash
  of every tensor name and shape, and a probe of a few base weights), so that applying it to
  another base is one clear error instead of a silently wrong model;
- ``MODEL_CARD.md``: how it was made, measured results, and the ``## Vocabulary`` section that
  ``avgen prompt lint --model ADAPTER`` reads (the base's words plus the fine-tuning captions').
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from avgen import __version__
from avgen.errors import AvgenError
from avgen.files import atomic_folder, json_text

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_RECORD = "avgen_adapter.json"
ADAPTER_CARD = "MODEL_CARD.md"
ADAPTER_FILES = (ADAPTER_CONFIG, ADAPTER_WEIGHTS, ADAPTER_RECORD, ADAPTER_CARD)
RECORD_CLASS = "AvgenLoraAdapter"
KEY_PREFIX = "base_model.model."  # PeftModel.save_pretrained's key prefix
# avgen's AudioDenoiser: every transformer block's self-attention (qkv, proj), cross-attention
# (q_x, kv_x, proj_x) and MLP Linear layers; not the adaLN, embedding or output layers.
AVGEN_TARGETS = r"blocks\.\d+\.(qkv|proj|q_x|kv_x|proj_x|mlp\.0|mlp\.2)"
# diffusers UNets (AudioLDM, AudioLDM 2): attention projections and feed-forward Linear layers.
UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2"]
PROBE_TENSORS = 64
PROBE_VALUES = 4
PROBE_RTOL, PROBE_ATOL = 2e-2, 2e-3  # float16 / bfloat16 copies of the same base still match


# ----------------------------------------------------------------------------- base identity


def base_signature(module: nn.Module) -> dict[str, Any]:
    """What identifies a base module: its class, a hash of every tensor's name and shape, and
    ``PROBE_VALUES`` weights from each of up to ``PROBE_TENSORS`` floating-point tensors
    (read before any LoRA layer is injected)."""
    state = module.state_dict()
    names = sorted(state)
    arch = hashlib.sha256()
    for name in names:
        arch.update(f"{name}:{tuple(state[name].shape)};".encode())
    floats = [n for n in names if state[n].is_floating_point() and state[n].numel() > 0]
    step = max(1, math.ceil(len(floats) / PROBE_TENSORS))
    probe: list[float] = []
    for name in floats[::step]:
        flat = state[name].detach().reshape(-1)
        for i in range(PROBE_VALUES):
            probe.append(float(flat[(i * 7919 + 13) % flat.numel()].float()))
    return {
        "module_class": type(module).__name__,
        "architecture": arch.hexdigest()[:32],
        "probe": probe,
    }


def _check_signature(base: dict[str, Any], module: nn.Module, folder: Path) -> None:
    found = base_signature(module)
    trained_on = base.get("path") or "another model"
    if base.get("module_class") != found["module_class"]:
        raise AvgenError(
            f"LoRA adapter {folder} was made for the {base.get('module_class')} of "
            f"{trained_on}, not for this {found['module_class']}."
        )
    if base.get("architecture") != found["architecture"]:
        raise AvgenError(
            f"LoRA adapter {folder} was made for another {found['module_class']} "
            f"architecture ({trained_on}); its layers do not fit this model."
        )
    want = torch.tensor(base.get("probe", []), dtype=torch.float64)
    have = torch.tensor(found["probe"], dtype=torch.float64)
    if want.shape != have.shape or not torch.allclose(have, want, rtol=PROBE_RTOL, atol=PROBE_ATOL):
        raise AvgenError(
            f"LoRA adapter {folder} was trained on other base weights ({trained_on}); "
            "load it onto the model it was made for."
        )


# ----------------------------------------------------------------------------- reading


def _read_json(path: Path, folder: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AvgenError(
            f"{folder} is not a usable LoRA adapter: {path.name} is not valid JSON "
            f"({exc.__class__.__name__})."
        ) from exc
    if not isinstance(data, dict):
        raise AvgenError(f"{folder} is not a usable LoRA adapter: {path.name} is not an object.")
    return data


def read_adapter(folder: str | Path) -> tuple[Any, dict[str, torch.Tensor], dict[str, Any]]:
    """Validate and read an adapter folder: (peft LoraConfig, {module: (A, B)} tensors keyed
    ``<module>.lora_A`` / ``<module>.lora_B``, avgen record or {} for a plain peft folder).

    Raises one AvgenError naming the folder for a missing, foreign or corrupt adapter."""
    from peft import LoraConfig
    from safetensors.torch import load_file

    folder = Path(folder)
    if not folder.is_dir():
        raise AvgenError(f"LoRA adapter folder {folder} does not exist.")
    cfg_path, weights = folder / ADAPTER_CONFIG, folder / ADAPTER_WEIGHTS
    if not cfg_path.is_file() or not weights.is_file():
        missing = ADAPTER_CONFIG if not cfg_path.is_file() else ADAPTER_WEIGHTS
        raise AvgenError(f"{folder} is not a LoRA adapter folder: it has no {missing}.")
    raw = _read_json(cfg_path, folder)
    if raw.get("peft_type") != "LORA":
        raise AvgenError(
            f"{folder} is not a LoRA adapter: {ADAPTER_CONFIG} has peft_type "
            f"{raw.get('peft_type')!r}, expected 'LORA'."
        )
    r = raw.get("r")
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise AvgenError(f"{folder} is not a usable LoRA adapter: rank r={r!r} is not >= 1.")
    if raw.get("use_dora") or raw.get("modules_to_save"):
        raise AvgenError(
            f"{folder} uses DoRA or modules_to_save; avgen applies plain LoRA adapters only."
        )
    known = set(LoraConfig.__dataclass_fields__)
    try:
        config = LoraConfig(**{k: v for k, v in raw.items() if k in known})
    except (TypeError, ValueError) as exc:
        raise AvgenError(f"{folder}/{ADAPTER_CONFIG} is not a valid LoraConfig ({exc}).") from exc
    try:
        stored = load_file(str(weights))
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise AvgenError(
            f"{weights} is not a readable safetensors file ({exc.__class__.__name__})."
        ) from exc
    state: dict[str, torch.Tensor] = {}
    for key, value in stored.items():
        name = key[len(KEY_PREFIX) :] if key.startswith(KEY_PREFIX) else key
        for kind in ("lora_A", "lora_B"):
            suffix = f".{kind}.weight"
            if name.endswith(suffix):
                state[f"{name[: -len(suffix)]}.{kind}"] = value
                break
        else:
            raise AvgenError(
                f"{weights} holds tensor {key!r}, which is not a LoRA A/B matrix; "
                "avgen applies plain LoRA adapters only."
            )
    if not state:
        raise AvgenError(f"{weights} holds no LoRA matrices.")
    record: dict[str, Any] = {}
    if (folder / ADAPTER_RECORD).is_file():
        record = _read_json(folder / ADAPTER_RECORD, folder)
        if record.get("_class") != RECORD_CLASS or not isinstance(record.get("base"), dict):
            raise AvgenError(f"{folder}/{ADAPTER_RECORD} is not an avgen adapter record.")
    return config, state, record


def _fit_check(module: nn.Module, state: dict[str, torch.Tensor], folder: Path) -> list[str]:
    """Every LoRA pair must sit on a Linear layer of ``module`` with matching shapes."""
    names = sorted({k.rsplit(".", 1)[0] for k in state})
    bad: list[str] = []
    for name in names:
        a, b = state.get(f"{name}.lora_A"), state.get(f"{name}.lora_B")
        try:
            layer = module.get_submodule(name)
        except AttributeError:
            bad.append(name)
            continue
        if (
            a is None
            or b is None
            or not isinstance(layer, nn.Linear)
            or a.ndim != 2
            or b.ndim != 2
            or a.shape[0] != b.shape[1]
            or a.shape[1] != layer.in_features
            or b.shape[0] != layer.out_features
        ):
            bad.append(name)
    if bad:
        raise AvgenError(
            f"LoRA adapter {folder} was made for another model: {len(bad)} of its {len(names)} "
            f"layers (e.g. {bad[0]!r}) do not fit this {type(module).__name__}."
        )
    return names


# ----------------------------------------------------------------------------- applying


def inject_lora(module: nn.Module, config: Any) -> nn.Module:
    """Insert peft LoRA layers into ``module`` in place (base weights frozen, LoRA trainable)."""
    from peft import inject_adapter_in_model

    module.requires_grad_(False)
    try:
        inject_adapter_in_model(config, module)
    except ValueError as exc:  # "Target modules ... not found in the base model"
        raise AvgenError(
            f"LoRA targets {config.target_modules!r} match no layer of this "
            f"{type(module).__name__} ({exc.__class__.__name__})."
        ) from exc
    return module


def lora_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA matrices of an injected module, in peft's saved key layout."""
    from peft import get_peft_model_state_dict

    state = get_peft_model_state_dict(module)
    return {KEY_PREFIX + k: v.detach().float().cpu().contiguous() for k, v in state.items()}


def merge_lora(module: nn.Module) -> nn.Module:
    """Fold every LoRA layer into its base Linear and put the plain Linear back (in place)."""
    from peft.tuners.lora import LoraLayer

    for name, layer in list(module.named_modules()):
        if isinstance(layer, LoraLayer) and name:
            layer.merge()
            parent_name, _, child = name.rpartition(".")
            parent = module.get_submodule(parent_name) if parent_name else module
            setattr(parent, child, layer.get_base_layer())
    return module


def apply_lora(
    module: nn.Module, adapter_dir: str | Path, *, scale: float = 1.0, merge: bool = True
) -> nn.Module:
    """Load the LoRA adapter in ``adapter_dir`` into ``module`` (avgen's AudioDenoiser or a
    diffusers UNet) in place, merged into its Linear weights; returns ``module``.

    ``scale`` multiplies the adapter's effect (1.0 = as trained). One AvgenError, with the
    module untouched, for a missing, corrupt or foreign folder or one made for another base.
    """
    from peft import set_peft_model_state_dict

    folder = Path(adapter_dir)
    if getattr(module, "_avgen_lora", None):
        raise AvgenError(
            f"this {type(module).__name__} already has LoRA adapter {module._avgen_lora} merged "
            "in; load the model again to apply another."
        )
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not -4 <= scale <= 4:
        raise AvgenError(f"LoRA scale must be a number from -4 to 4, got {scale!r}.")
    config, state, record = read_adapter(folder)
    if record:
        _check_signature(record["base"], module, folder)
    names = _fit_check(module, state, folder)
    config.target_modules = names  # exactly the layers the file has matrices for
    config.inference_mode = True
    inject_lora(module, config)
    peft_state = {}
    for key, value in state.items():
        name, kind = key.rsplit(".", 1)
        if kind == "lora_B":
            value = value * float(scale)
        peft_state[f"{name}.{kind}.weight"] = value
    result = set_peft_model_state_dict(module, peft_state)
    unexpected = getattr(result, "unexpected_keys", [])
    if unexpected:
        raise AvgenError(f"LoRA adapter {folder} has {len(unexpected)} tensors this model lacks.")
    if merge:
        merge_lora(module)
    module._avgen_lora = str(folder)
    return module


def adapter_id(adapter_dir: str | Path) -> str:
    """Stable id of an adapter for caches: its resolved path and a hash of its weights file."""
    folder = Path(adapter_dir).resolve()
    weights = folder / ADAPTER_WEIGHTS
    digest = "missing"
    if weights.is_file():
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    return f"{folder}@{digest}"


# ----------------------------------------------------------------------------- writing


def write_adapter(
    folder: str | Path,
    module: nn.Module,
    config: Any,
    record: dict[str, Any],
    card: str,
) -> Path:
    """Write the adapter files of an injected ``module`` into ``folder``: each file goes to a
    temporary name first and is then renamed, so no file is ever half written."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = lora_state_dict(module)
    if not state:
        raise AvgenError("the model has no LoRA layers to save.")
    saved = dict(config.to_dict())
    saved["target_modules"] = (
        sorted(saved["target_modules"])
        if isinstance(saved.get("target_modules"), list | set | tuple)
        else saved.get("target_modules")
    )
    saved["peft_type"] = "LORA"
    full = {"_class": RECORD_CLASS, "format": 1, "avgen_version": __version__, **record}
    texts = {
        ADAPTER_CONFIG: json_text(saved, what=ADAPTER_CONFIG, indent=2, default=str),
        ADAPTER_RECORD: json_text(full, what=ADAPTER_RECORD, indent=2),
        ADAPTER_CARD: card,
    }
    with atomic_folder(folder / ".adapter") as tmp:  # a unique name: savers never collide
        meta = {"format": "pt", "avgen": __version__}
        save_file(state, str(tmp / ADAPTER_WEIGHTS), metadata=meta)
        for name, text in texts.items():
            (tmp / name).write_text(text)
        for name in (ADAPTER_WEIGHTS, ADAPTER_CONFIG, ADAPTER_RECORD, ADAPTER_CARD):
            os.replace(tmp / name, folder / name)
    return folder
