"""The model card of a trained LoRA adapter (``MODEL_CARD.md`` beside its weights).

It tells what the adapter is (base, targeted layers, rank, trainable share), how it was trained
(command, data, prior preservation, steps, wall time, hardware, last loss) and, under
``## Vocabulary``, the words that ``avgen prompt lint --model ADAPTER`` accepts.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch


def phrases(vocab: set[str]) -> set[str]:
    """A base card's vocabulary without prose (no entry longer than the parser's phrases)."""
    from avgen.prompts import LEXICON

    longest = max(len(p) for p in LEXICON)
    return {w for w in vocab if 0 < len(w.split()) <= longest}


def last_loss(path: Path, component: str) -> float | None:
    """The last logged total loss of ``component`` in a ``train_log.jsonl``, or None."""
    if not path.is_file():
        return None
    for line in reversed(path.read_text().splitlines()):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("component") == component and "total" in row:
            return float(row["total"])
    return None


def hardware(device: torch.device) -> str:
    """One line naming the device the adapter was trained on (GPU name or CPU cores)."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    return (
        f"{cpu} CPU, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s) per process"
    )


def _header(base: dict[str, Any], tr: dict[str, Any], targets: str) -> list[str]:
    share = 100.0 * tr["trainable_parameters"] / max(1, tr["base_parameters"])
    comp = base["component"]
    return [
        f"# LoRA adapter for {base['path']} ({base['pipeline_class']}, {comp})",
        "",
        f"LoRA (Hu et al., arXiv 2106.09685) on the {base['module_class']}'s attention and MLP "
        f"Linear layers (`{targets}`): rank {tr['rank']}, alpha {tr['alpha']:g}, "
        f"{tr['trainable_parameters']:,} trainable parameters ({share:.2f} % of the "
        f"{comp}'s {tr['base_parameters']:,}). Everything else is frozen.",
        "",
        f'Use: `avgen audio "..." --model {base["path"]} --lora THIS_FOLDER` (or '
        f"`avgen.lora.apply_lora(pipe.{comp}, THIS_FOLDER)`). It refuses any other base.",
        "",
    ]


def _training(tr: dict[str, Any]) -> list[str]:
    lines = [
        "## Training",
        "",
        f"- command: `{tr['command']}`",
        f"- data: `{tr['data']}`: {tr['clips']} clips, {tr['captions']} distinct captions, "
        f"{tr['window_s']:g} s windows",
    ]
    if tr["prior_data"]:
        lines.append(
            f"- prior preservation (DreamBooth, arXiv 2208.12242): `{tr['prior_data']}`, "
            f"{tr['prior_clips']} clips the base already knows; every step adds "
            f"{tr['prior_weight']:g} x the loss on {tr['prior_batch_size']} of them"
        )
    schedule = "linear warm-up"
    if tr.get("lr_schedule") == "cosine":
        schedule += f", then cosine decay to {tr['min_lr_ratio']:g} x"
    if tr.get("mixed_precision", "no") != "no":
        schedule += f"; {tr['mixed_precision']} autocast"
    return lines + [
        f"- steps: {tr['steps']} of {tr['steps_asked']}, batch {tr['batch_size']} x "
        f"{tr['processes']} process(es), AdamW lr {tr['lr']:g} ({schedule}), "
        f"EMA {'on' if tr['ema'] else 'off'}, seed {tr['seed']}",
        f"- wall time: {tr['train_wall_s'] / 60:.1f} min training + "
        f"{tr['prepare_wall_s'] / 60:.1f} min loading and caching",
        f"- hardware: {tr['hardware']}",
        f"- last logged loss: {tr['last_loss']}",
        "",
    ]


def adapter_card(record: dict[str, Any], targets: Any, vocab: list[str]) -> str:
    """The card of an adapter from its record ({"base", "training"}), its LoRA target modules
    (a regex or a list) and its vocabulary."""
    targets = targets if isinstance(targets, str) else ", ".join(sorted(targets))
    lines = _header(record["base"], record["training"], targets) + _training(record["training"])
    lines += [
        "The vocabulary below (read by `avgen prompt lint --model THIS_FOLDER`) is the base "
        "card's list plus the avgen.vocab phrases of the fine-tuning captions.",
        "",
        "## Vocabulary",
        "",
        ", ".join(vocab),
        "",
    ]
    return "\n".join(lines)
