"""The heap's free pages given back to the system after the API's copies are rebuilt (glibc only).

The API's copies of the active tickets (nephthys/api/active_tickets.py) are a few arrays of tens of
MB each, and every ticket change (and, with running SLA clocks, every second of support time
shown) builds the next array and frees the one before. glibc's ``malloc`` serves a block from its
own heap unless it is at least its mmap threshold, and that threshold moves: once a large block
mapped on its own is freed, the threshold rises to that block's size (up to 32 MiB), so the next
arrays come from the heap, and a freed array in the middle of the heap stays resident. Issue 23
measured it at 1,000,000 tickets: the copies' +78 MiB became +107 MiB after 40 changes, and +131
MiB after 80.

:func:`give_back` (``malloc_trim(0)``) returns every whole free page of the heap, in its middle as
well as at its top, and is called once a copy has been rebuilt (0.13 ms CPU median, 4.8 ms at most,
at 80,164 active tickets: bench/README.md, "Issue 23, second pass"). Alone it kept the copies at
+76.5 MiB after the changes that made main's +107.

The threshold itself is left to glibc. Fixed at 1 MiB (``mallopt``), it did the same for the copies
but mapped and unmapped every block of 1 MiB or more anew, and the export's blocks are ~1.2 MB
each: at 1,000,000 tickets with SLA targets a full export then cost 4,210 ms of service CPU
instead of 1,300 (page faults on every block; bench/README.md, "Quiet measure after the merges, 8 Dec").

Elsewhere (musl, macOS) nothing is done: their allocators map large blocks on their own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = (ctypes.c_size_t,), ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def gives_back() -> bool:
    """Whether :func:`give_back` does anything here (glibc)."""
    return _glibc() is not None


def give_back() -> None:
    """Return the heap's free pages to the system (glibc's ``malloc_trim(0)``; elsewhere nothing)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
