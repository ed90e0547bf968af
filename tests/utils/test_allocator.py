"""The heap's free pages given back after the active copies are rebuilt (issue 23)."""

from __future__ import annotations

import platform

from nephthys.utils import allocator


def test_giving_back_works_wherever_it_runs():
    assert allocator.gives_back() is (platform.libc_ver()[0] == "glibc")
    allocator.give_back()  # never raises, whatever the C library


def test_a_freed_array_inside_the_heap_leaves_the_resident_memory():
    """An array of tens of MB freed inside the heap (glibc's threshold raised by a larger one freed
    before it, so the array came from the heap; a live block allocated after it) stays resident
    until the free pages are given back (24 of 24 MiB, measured), and leaves once they are."""
    if not allocator.gives_back():
        return
    first = bytearray(30 << 20)
    del first  # glibc's mmap threshold now rises above the next array
    allocator.give_back()  # the heap's free pages, resident from earlier tests, are no longer counted
    before = _resident()
    block = bytearray(24 << 20)  # zero-filled: touched, so resident
    later = bytearray(2000)
    grown = _resident()
    del block
    assert grown - before >= 20 << 20
    allocator.give_back()
    assert _resident() - before < 4 << 20
    del later


def _resident() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")
