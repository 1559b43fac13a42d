"""avgen: open text-to-audio and text-to-video generation that runs on a laptop CPU."""

__version__ = "0.1.0"
