"""Image codecs and the single registry that apps, GRC blocks and semcom-eval share."""
from .registry import available, get, register  # noqa: F401
