"""The Slack side of Nephthys: a Bolt app mounted at /slack/events.

Placeholder until the Slack lifecycle lands: ``start_slack`` returns an object with
``handle(request)``, ``healthy`` and ``stop()``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nephthys.config import Settings


async def start_slack(settings: Settings, sessions: async_sessionmaker[AsyncSession]):
    """Start the Slack integration; None while it is not built."""
    return None
