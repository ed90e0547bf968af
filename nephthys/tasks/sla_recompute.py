"""The SLA clocks' recompute after a policy change (``sla-recompute``): one of the API's own jobs,
run by every instance, Slack on or off (the clocks are the API's ``sla`` too).

A start-up whose SLA settings or calendar differ from the ones the clocks follow only asks for it
(nephthys/sla/install.py) and answers at once; this job does the work: every ``EVERY_SECONDS``
(first ``FIRST_AFTER_SECONDS`` after start-up), under its advisory lock, it recomputes every
ticket's clocks in batches, active tickets first, until none is pending. With none pending a run
is one read of the policy's one row.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nephthys.sla import install
from nephthys.sla.install import Batch, Sessions
from nephthys.tasks.scheduler import Job

NAME = "sla-recompute"
EVERY_SECONDS = 30
FIRST_AFTER_SECONDS = 1.0


@dataclass
class SlaRecompute:
    sessions: Sessions
    batch: int = install.BATCH
    # Awaited after each committed batch: a test pauses (or stops) the recompute there.
    between_batches: Callable[[Batch], Awaitable[None]] | None = None

    def schedule(self) -> str:
        return (
            f"every {EVERY_SECONDS} s while the SLA clocks follow another policy than the service's: "
            f"recomputes them in batches of {self.batch} tickets, active tickets first"
        )

    async def progress(self) -> str:
        return (await install.recompute_state(self.sessions)).describe()

    async def run(self, dry_run: bool = False) -> str:
        """Recompute until none is pending; returns what it did (or, dry, where it stands)."""
        if dry_run:
            return await self.progress()
        if (await install.recompute_state(self.sessions)).pending is None:
            return "no recompute pending"
        started = time.monotonic()
        done = await install.recompute(self.sessions, batch=self.batch, between_batches=self.between_batches)
        if done.skipped:
            return "another run holds the recompute"
        if not done.tickets:
            return "no recompute pending"
        return f"recomputed {done.tickets:,} tickets' clocks in {time.monotonic() - started:.1f} s"


def job(
    sessions: Sessions,
    *,
    between_batches: Callable[[Batch], Awaitable[None]] | None = None,
    batch: int = install.BATCH,
) -> Job:
    """The API's interval job (nephthys/utils/starlette.py)."""
    recomputing = SlaRecompute(sessions, batch=batch, between_batches=between_batches)
    return Job(
        NAME,
        EVERY_SECONDS,
        recomputing.run,
        first_after_seconds=FIRST_AFTER_SECONDS,
        schedule=recomputing.schedule(),
        dry_run=lambda: recomputing.run(dry_run=True),
        progress=recomputing.progress,
    )
