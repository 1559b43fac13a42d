"""Trainers (Hugging Face Accelerate) of avgen's models on folders of captioned clips.

- ``avgen.train.audio``: the text-to-audio model (mel VAE, vocoder, CLAP, denoiser);
- ``avgen.train.video``: the text-to-video model (causal video VAE, space-time DiT);
- ``avgen.train.phenaki``: the Phenaki-style text-to-video model (C-ViViT tokenizer, MaskGIT);
- ``avgen.train.lora``: the old entry point of the LoRA trainer, which is ``avgen.lora.train``
  (``avgen finetune audio``).

``avgen.train.common`` holds the shared loop (``ComponentLoop``: EMA, checkpoints, loss log,
progress, learning-rate schedule, time budget), ``avgen.train.options`` the flags every trainer
takes, ``avgen.train.captions`` the cached text encodings. Inference code
(``avgen.pipelines`` and the adapter side, ``avgen.lora``) never imports this package.
"""
