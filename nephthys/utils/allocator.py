"""Large blocks the C allocator gives back to the system once freed (glibc only).

The API's copies of the active tickets (nephthys/api/active_tickets.py) are a few arrays of tens of
MB each, and every ticket change (and, with running SLA clocks, every second of support time
shown) builds the next array and frees the one before. glibc's ``malloc`` serves a block from its
own heap unless it is at least its mmap threshold, and that threshold moves: once a large block
mapped on its own is freed, the threshold rises to that block's size (up to 32 MiB), so the next
arrays come from the heap, and a freed array in the middle of the heap stays resident. Issue 23
measured it at 1,000,000 tickets: the copies' +78 MiB became +107 MiB after 40 changes, and +196
MiB instead of +139 with running SLA clocks.

:func:`return_large_blocks` fixes the threshold at 1 MiB for the process (``mallopt``, the same as
``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576``, which docs/deployment.md asked operators to
set): every block of 1 MiB or more, an array or a 2,000-row batch of a whole read, has its own
mapping, unmapped when freed. Fixing it also fixes the trim threshold (at its default, 128 KiB), so
freed space at the top of the heap is returned too. At 4 MiB the batches stayed in the heap (+101
MiB full, bench/README.md). What it costs: a new array's pages are faulted in when it is built
(issue 23: 43 instead of 15 ms for ``status=open`` right after a change, in process, at load 8).

The blocks under the threshold freed with them (a whole read's rows, 2,000 at a time; the columns
and templates of a patch) leave free pages between live ones that the heap cannot give back from
its top: :func:`give_back` (``malloc_trim``) returns them, called once a copy has been rebuilt (0.13
ms CPU median, 4.8 ms at most, at 80,164 active tickets: bench/README.md, "Issue 23, second pass").

Elsewhere (musl, macOS) nothing is done: their allocators map large blocks on their own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import platform

log = logging.getLogger(__name__)

# <malloc.h>
M_MMAP_THRESHOLD = -3
# Blocks of this size or more are mapped on their own (and unmapped when freed).
MMAP_THRESHOLD = 1 << 20


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.mallopt.argtypes, libc.mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = (ctypes.c_size_t,), ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


@functools.cache
def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD` for this process, once; whether it was set
    (False off glibc, or if glibc refused)."""
    libc = _glibc()
    if libc is None:
        return False
    done = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    if not done:
        log.warning(
            "glibc refused mallopt(M_MMAP_THRESHOLD, %d): freed arrays may stay resident", MMAP_THRESHOLD
        )
    return done


def give_back() -> None:
    """Return the heap's free pages to the system (glibc's ``malloc_trim(0)``; elsewhere nothing)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
