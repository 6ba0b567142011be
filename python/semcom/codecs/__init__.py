"""Image codecs and the single registry that apps, GRC blocks and semcom-eval share.

``registry`` knows no codec; the built-in ones register themselves when imported here:
``sscc`` (avif, jpeg2000, webp, jpeg and their envelope) and ``neural`` (every installed model).
"""
from . import neural, sscc  # noqa: F401  (register the built-in codecs)
from .registry import available, get, register  # noqa: F401
