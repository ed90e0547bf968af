"""The memory reindex (``memory-reindex``): fill the search rows of tickets opened before
migration 0024, in the background, for a service that upgraded its schema on start (``serve``
migrates, but only ``nephthys db upgrade`` runs the reindex itself). One of the API's own jobs:
every instance runs it, Slack on or off (search is the API's too).

Every ``EVERY_SECONDS`` (an interval job under its advisory lock, and the reindex's own), at most
``BATCHES_PER_RUN`` batches of nephthys/memory/reindex.py's ``BATCH`` tickets, ``PAUSE_SECONDS``
apart, going on from where the last run stopped. Once a run finds nothing missing, later runs of
this process do nothing (no ticket opened now lacks a row: opening writes it).
"""

from __future__ import annotations

from dataclasses import dataclass

from nephthys.memory import reindex
from nephthys.memory.reindex import Sessions
from nephthys.tasks.scheduler import Job

NAME = "memory-reindex"
EVERY_SECONDS = 60
FIRST_AFTER_SECONDS = 30
BATCHES_PER_RUN = 200
PAUSE_SECONDS = 0.05


@dataclass
class MemoryReindex:
    sessions: Sessions
    batches_per_run: int = BATCHES_PER_RUN
    pause_seconds: float = PAUSE_SECONDS
    after: int = 0  # the last ticket id looked at: the next run goes on from there
    finished: bool = False

    def schedule(self) -> str:
        return (
            f"every {EVERY_SECONDS} s until none is missing: at most {self.batches_per_run} batches of "
            f"{reindex.BATCH} tickets opened before migration 0024"
        )

    async def run(self, dry_run: bool = False) -> str:
        """Fill the next batches; returns what it did (or, dry, whether any row is missing)."""
        if self.finished:
            return "none missing"
        if dry_run:
            return (
                "some tickets lack a search row"
                if await reindex.any_missing(self.sessions)
                else "none missing"
            )
        done = await reindex.reindex_missing(
            self.sessions,
            max_batches=self.batches_per_run,
            pause_seconds=self.pause_seconds,
            after=self.after,
        )
        if done.skipped:
            return "another run holds the reindex"
        self.after = done.after
        if done.done:
            # Past the last ticket: one look from the start finds any a crash or a race left behind.
            if self.after and await reindex.any_missing(self.sessions):
                self.after = 0
                return f"filled {done.filled}; going over the start again"
            self.finished = True
            return f"filled {done.filled}; none missing"
        return f"filled {done.filled}, up to ticket #{done.after}"


def job(sessions: Sessions) -> Job:
    """The API's interval job (nephthys/utils/starlette.py)."""
    reindexing = MemoryReindex(sessions)
    return Job(
        NAME,
        EVERY_SECONDS,
        reindexing.run,
        first_after_seconds=FIRST_AFTER_SECONDS,
        schedule=reindexing.schedule(),
        dry_run=lambda: reindexing.run(dry_run=True),
    )
