"""The old import path of the LoRA adapter API, which now lives in ``avgen.lora``."""

from avgen.lora import (  # noqa: F401
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
