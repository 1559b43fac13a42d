"""``python -m avgen.train.lora`` (and ``accelerate launch -m avgen.train.lora``): the LoRA
trainer's old entry point; the trainer is ``avgen.lora.train``."""

from avgen.lora.train import main

__all__ = ["main"]

if __name__ == "__main__":
    from avgen.lora.train import run_main

    raise SystemExit(run_main())
