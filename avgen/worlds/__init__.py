"""The procedural worlds (WORLD.md): SoundWorld, MotionWorld, AVWorld and their checkers."""
