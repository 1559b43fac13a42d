"""LoRA (Hu et al., arXiv 2106.09685) in one place: adapters for inference, and their trainer.

- ``avgen.lora.adapter`` (exported here): read, check, apply, merge and write adapter folders,
  and ``adapter_id`` for caches. Pipelines import only this side.
- ``avgen.lora.train``: ``avgen finetune audio``, the trainer (Accelerate, peft); with
  ``avgen.lora.unet`` for diffusers AudioLDM / AudioLDM 2 bases and ``avgen.lora.card`` for the
  adapter's model card. Importing ``avgen.lora`` never imports the trainer.
"""

from avgen.lora.adapter import (
    ADAPTER_CARD,
    ADAPTER_CONFIG,
    ADAPTER_FILES,
    ADAPTER_RECORD,
    ADAPTER_WEIGHTS,
    AVGEN_TARGETS,
    KEY_PREFIX,
    RECORD_CLASS,
    UNET_TARGETS,
    adapter_id,
    apply_lora,
    base_signature,
    inject_lora,
    lora_state_dict,
    merge_lora,
    read_adapter,
    write_adapter,
)

__all__ = [
    "ADAPTER_CARD",
    "ADAPTER_CONFIG",
    "ADAPTER_FILES",
    "ADAPTER_RECORD",
    "ADAPTER_WEIGHTS",
    "AVGEN_TARGETS",
    "KEY_PREFIX",
    "RECORD_CLASS",
    "UNET_TARGETS",
    "adapter_id",
    "apply_lora",
    "base_signature",
    "inject_lora",
    "lora_state_dict",
    "merge_lora",
    "read_adapter",
    "write_adapter",
]
