"""Slack's instants: when Slack says something happened, read from a payload.

A message's ``ts`` and a click's ``action_ts`` are ``"<unix seconds>.<microseconds>"``
strings; they are the moment the thing happened, however late we process it (a
delivery retried after an outage, or replayed from the event store). Anything that is
not such a string is None, and the caller falls back to the database's clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# Ten digits of seconds cover 2001-09-09 to 2286; Slack writes six digits of microseconds.
_SLACK_TS = re.compile(r"([0-9]{1,10})\.([0-9]{1,6})", re.ASCII)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def slack_instant(ts: object) -> datetime | None:
    """The UTC instant a Slack ``ts`` / ``action_ts`` names, exactly (no float rounding); None if unreadable."""
    if not isinstance(ts, str):
        return None
    match = _SLACK_TS.fullmatch(ts)
    if match is None:
        return None
    seconds, micros = match.groups()
    return _EPOCH + timedelta(seconds=int(seconds), microseconds=int(micros.ljust(6, "0")))
