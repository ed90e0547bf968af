"""The service's clock: the one source of "now" for the scheduler, the jobs and the Slack side.

Passed down (``create_app(clock=…)`` → ``SlackContext.clock``) rather than read from the
machine, so a test decides the instant every job computes for, whatever the hour it runs at.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The machine's time, timezone-aware UTC: the clock of a real deployment."""
    return datetime.now(UTC)
