"""Messages for humans in SLACK_HEARTBEAT_CHANNEL: start-up, and failures worth a look."""

from __future__ import annotations

import asyncio
import logging
import time

from nephthys.slack.client import PostTag, SlackClient

HEARTBEAT = PostTag("heartbeat")

log = logging.getLogger(__name__)

# The same alert at most once in this many seconds, so an outage is one message, not a flood.
REPEAT_AFTER_SECONDS = 600


class Heartbeat:
    def __init__(self, client: SlackClient, channel: str | None) -> None:
        self.client = client
        self.channel = channel
        self._last_posted: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def post(self, text: str) -> bool:
        """Post ``text``; never raises (the heartbeat must not break what it reports on)."""
        if self.channel is None:
            return False
        async with self._lock:
            now = time.monotonic()
            last = self._last_posted.get(text)
            if last is not None and now - last < REPEAT_AFTER_SECONDS:
                return False
            self._last_posted[text] = now
        try:
            await self.client.post_message(channel=self.channel, text=text, tag=HEARTBEAT)
        except Exception as error:  # Slack down: the log has it
            log.warning("heartbeat not posted (%s): %s", type(error).__name__, text)
            async with self._lock:
                self._last_posted.pop(text, None)
            return False
        return True

    async def started(self, *, program: str, environment: str) -> None:
        """Raises when Slack is unreachable, so start-up retries it."""
        if self.channel is None:
            return
        await self.client.post_message(
            channel=self.channel,
            text=f":large_green_circle: Nephthys started ({program}, {environment}).",
            tag=HEARTBEAT,
        )
