"""What start-up made is left out of later garbage collections (nephthys/utils/heap.py)."""

from __future__ import annotations

import gc

from nephthys.utils.heap import freeze_start_up_objects


def test_the_objects_made_so_far_are_frozen_and_later_ones_are_collected_as_before():
    try:
        kept = [[n] for n in range(1000)]
        frozen = freeze_start_up_objects()
        assert frozen == gc.get_freeze_count() > len(kept)
        # Frozen objects are in no generation, so no collection examines them.
        assert not any(tracked is kept for tracked in gc.get_objects())
        # Made afterwards: an unreachable cycle is still found by a collection.
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()  # the test process goes on collecting what this test froze
