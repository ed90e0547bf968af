"""Python's cyclic garbage collector and the objects the service makes at start-up."""

from __future__ import annotations

import gc


def freeze_start_up_objects() -> int:
    """Leave the objects made so far out of every later collection; how many were left out.

    The collector's oldest generation is collected whole: every tracked object, and after start-up
    those are some 150,000 (the imported libraries' modules, classes and functions: SQLAlchemy,
    Bolt, slack_sdk, aiohttp), plus the API's copies of the active tickets. One such collection
    took ~80 ms of CPU, all of it holding the event loop, and a burst's allocations set one off
    within its first seconds: every request then in flight waited (issue 23: acknowledgements
    of 380–480 ms on a loaded machine, beside 20–50 ms ones). Frozen (``gc.freeze``), they are
    never examined again, so a full collection walks only what was made since.

    What is frozen is still freed by reference counting when dropped; only a reference cycle among
    frozen objects would stay, and start-up makes few (a collection runs first, so its garbage is
    not kept). Called once, at the end of start-up.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
