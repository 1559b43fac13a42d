"""The procedural worlds (docs/WORLDS.md): SoundWorld, MotionWorld, AVWorld and their checkers."""
