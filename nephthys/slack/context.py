"""What every Slack listener, macro and job needs, passed down explicitly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nephthys.config import Settings
from nephthys.slack.client import BotIdentity, SlackClient
from nephthys.slack.heartbeat import Heartbeat
from nephthys.tickets.lifecycle import Sessions
from nephthys.transcripts import Transcript
from nephthys.utils.clock import Clock, utc_now

if TYPE_CHECKING:
    from nephthys.slack.home.publisher import HomePublisher

log = logging.getLogger(__name__)


# The least time between two updates of a surge's team-channel message, in seconds: in a burst
# every question joins the surge, and a chat.update per question (with its two reads) was a
# quarter of the question's Slack calls, each redrawing what the next one redraws again.
SURGE_UPDATE_SECONDS = 1.0

# A job's reason to be off when it has no team channel to post to (a dry run goes on without it).
NO_TEAM_CHANNEL = "SLACK_BTS_CHANNEL is not set"


@dataclass(frozen=True)
class Channels:
    help: str
    tickets: str
    bts: str | None = None
    heartbeat: str | None = None


class BackgroundWork:
    """Tasks started after Slack got its acknowledgement; tracked so they can be awaited or stopped."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, work: Coroutine, *, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, within: float | None = None) -> bool:
        """Wait until no task is pending (new ones included); False if ``within`` seconds ran out first."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while self._tasks:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True

    async def cancel(self) -> None:
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class KeyedLocks:
    """One asyncio lock per key, kept only while someone holds or waits for it (so never more than that)."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: dict[Hashable, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable):
        """Hold ``key``'s lock; yields whether another holder had it first (and may have acted)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            waited = lock.locked()
            async with lock:
                yield waited
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                del self._locks[key]


class TicketLocks(KeyedLocks):
    """One asyncio lock per ticket, so this instance never runs two Slack workflows on a ticket at once.

    (Across instances, event de-duplication and the repair job's grace period keep
    workflows apart, and the backend message is claimed with a conditional update.)
    """


class Coalesced:
    """Per key, at most one piece of work running in this instance, and one more queued behind it.

    For work that shows the current state of something (re-read when it runs): a request that
    arrives while a round runs is served by the next round, which every request that arrived
    meanwhile shares. So a burst costs two rounds, not one per request. The caller that started
    the rounds runs them all; the others return at once.

    ``every``: a round starts at least this many seconds after the one before it (the first at
    once), so a steady stream of requests costs one round per ``every``, not one per request,
    and the last round still shows the state after the last request.
    """

    def __init__(self, *, every: float = 0.0) -> None:
        self.every = every
        self._again: dict[Hashable, bool] = {}

    async def run(
        self, key: Hashable, first: Callable[[], Awaitable[object]], again: Callable[[], Awaitable[object]]
    ) -> None:
        """``first`` now, then ``again`` while requests came during the round before; or, when a
        round is already running for ``key``, only ask it for one more and return."""
        if key in self._again:
            self._again[key] = True
            return
        self._again[key] = False
        loop = asyncio.get_running_loop()
        try:
            started = loop.time()
            await first()
            while self._again[key]:
                wait = started + self.every - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)  # requests arriving meanwhile join this round
                self._again[key] = False
                started = loop.time()
                await again()
        finally:
            del self._again[key]


class QuestionsInFlight:
    """Questions acknowledged by this instance whose ticket is not stored yet.

    A reply handled before its question's ticket exists would find no ticket; it
    waits here instead (bounded), so its author still counts as the last to speak.
    """

    WAIT_SECONDS = 10.0

    def __init__(self) -> None:
        self._stored: dict[str, asyncio.Event] = {}

    def expect(self, msg_ts: str) -> None:
        self._stored.setdefault(msg_ts, asyncio.Event())

    def stored(self, msg_ts: str) -> None:
        event = self._stored.pop(msg_ts, None)
        if event is not None:
            event.set()

    async def wait_for(self, msg_ts: str) -> None:
        event = self._stored.get(msg_ts)
        if event is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), self.WAIT_SECONDS)


@dataclass
class SlackContext:
    settings: Settings
    sessions: Sessions
    client: SlackClient
    transcript: Transcript
    channels: Channels
    background: BackgroundWork = field(default_factory=BackgroundWork)
    ticket_locks: TicketLocks = field(default_factory=TicketLocks)
    questions_in_flight: QuestionsInFlight = field(default_factory=QuestionsInFlight)
    # A surge's team-channel message updated by one round at a time, at most one round a second
    # (Slack's own limit for chat.update on one message; nephthys/slack/memory.py).
    surge_updates: Coalesced = field(default_factory=lambda: Coalesced(every=SURGE_UPDATE_SECONDS))
    # Known once auth.test has answered (retried in the background at start-up).
    identity: BotIdentity = field(default_factory=BotIdentity)
    heartbeat: Heartbeat | None = None
    # The App Home's publisher (nephthys/slack/home); set when the Slack service starts.
    home: HomePublisher | None = None
    # "Now" for the scheduler, the jobs and the views (nephthys/utils/clock.py).
    clock: Clock = utc_now
    # The AI uses ("draft", "question_tag") whose last call failed: the heartbeat channel hears of
    # a failure once, not per ticket, until a call succeeds (nephthys/slack/memory.py).
    ai_failing: set[str] = field(default_factory=set)

    def ticket_changed(self, helper_slack_id: str | None) -> None:
        """A ticket assigned to this helper changed: their App Home may need a refresh (live, debounced)."""
        if self.home is not None:
            self.home.ticket_changed(helper_slack_id)

    def permalink(self, channel: str, ts: str, *, thread_ts: str | None = None) -> str:
        from nephthys.slack.messages import permalink

        return permalink(self.settings.slack_workspace_url, channel, ts, thread_ts=thread_ts)

    async def alert(self, text: str) -> None:
        """A failure worth a human's eye: logged, and posted to the heartbeat channel when set."""
        log.error(text)
        if self.heartbeat is not None:
            await self.heartbeat.post(text)
