"""glibc's mmap threshold fixed by the process, and the heap's free pages given back (issue 23)."""

from __future__ import annotations

import platform

from nephthys.api.active_tickets import ActiveTicketsMemo
from nephthys.utils import allocator


def test_the_memo_fixes_the_threshold_on_glibc_and_free_pages_can_be_given_back():
    ActiveTicketsMemo()
    assert allocator.return_large_blocks() is (platform.libc_ver()[0] == "glibc")
    allocator.give_back()  # never raises, whatever the C library


def test_a_freed_large_block_is_returned_to_the_system():
    """With the threshold fixed, an array of tens of MB freed leaves the process's resident memory
    even after a larger one was freed before it (which, left to glibc, raises its threshold so the
    next array comes from the heap and stays resident: 24 of 24 MiB, measured) and with a live block
    allocated after it."""
    if not allocator.return_large_blocks():
        return
    first = bytearray(30 << 20)
    del first
    before = _resident()
    block = bytearray(24 << 20)  # zero-filled: touched, so resident
    later = bytearray(2000)
    grown = _resident()
    del block
    assert grown - before >= 20 << 20
    assert _resident() - before < 4 << 20
    del later


def _resident() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")
