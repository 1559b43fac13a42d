"""Trainers (Hugging Face Accelerate): ``avgen.train.audio`` trains the text-to-audio model.

``avgen.train.common`` holds the shared loop helpers (EMA, checkpoints, loss log, progress).
Inference code (``avgen.pipelines``) never imports this package.
"""
