"""What every job of the Slack service shares: its context, and the clock it computes for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nephthys.slack.context import SlackContext
from nephthys.utils.clock import Clock


@dataclass
class ServiceJob:
    ctx: SlackContext
    # None: the service's clock (ctx.clock), so one injected clock moves every job; a test may pin one job's.
    clock: Clock | None = None

    def now(self) -> datetime:
        return (self.clock or self.ctx.clock)()
