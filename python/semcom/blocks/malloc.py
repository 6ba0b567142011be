"""C-library memory settings for long-running receivers (no GNU Radio, no torch).

glibc gives each thread its own malloc arena, up to 8 per core. In a GNU Radio
receiver, buffers of a few hundred kB (bursts, LLRs, images) are allocated on one
block's thread and freed on another's, and the arenas fragment: the two-process
ZeroMQ soak's receiver grew about 120 kB an image (240 -> 300 MB over 500
images). Two arenas keep it flat (231 -> 233 MB over 150 images).
"""
import ctypes
import ctypes.util

M_ARENA_MAX = -8  # glibc <malloc.h>
RECEIVER_ARENAS = 2
_applied: "bool | None" = None


def limit_arenas(count: int = RECEIVER_ARENAS) -> bool:
    """Caps glibc's malloc arenas for this process (once); False where the C library is not glibc."""
    global _applied
    if _applied is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _applied = bool(libc.mallopt(M_ARENA_MAX, count))
        except (OSError, AttributeError):
            _applied = False
    return _applied
