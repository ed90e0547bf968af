"""The deliveries' claims on a pool of their own, overflowing to the Slack pool (nephthys/slack/app.py)."""

from __future__ import annotations

from types import SimpleNamespace

from nephthys.database import raw
from nephthys.database.engine import create_engine, session_factory
from nephthys.slack import deliveries
from nephthys.slack.app import SlackService


async def test_a_claim_uses_its_own_pool_while_a_connection_is_free_and_the_slack_pool_when_not(db_url):
    claims_engine = create_engine(db_url, pool_size=1, max_overflow=0)
    slack_engine = create_engine(db_url, pool_size=2, max_overflow=0)
    try:
        claims, slack = session_factory(claims_engine), session_factory(slack_engine)
        service = SimpleNamespace(_claims=claims, ctx=SimpleNamespace(sessions=slack))
        assert SlackService._claim_sessions(service) is claims  # type: ignore[arg-type]
        async with raw.autocommit(claims_engine):  # its one connection busy: no waiting for it
            assert SlackService._claim_sessions(service) is slack  # type: ignore[arg-type]
            assert await deliveries.claim_event(slack, "EvOVERFLOW1")
        assert SlackService._claim_sessions(service) is claims  # type: ignore[arg-type]
        # Either pool, one table: the redelivery is recognised.
        assert not await deliveries.claim_event(claims, "EvOVERFLOW1")
        # Without a pool of their own (a service built without one), claims use the Slack pool.
        alone = SimpleNamespace(_claims=None, ctx=SimpleNamespace(sessions=slack))
        assert SlackService._claim_sessions(alone) is slack  # type: ignore[arg-type]
    finally:
        await claims_engine.dispose()
        await slack_engine.dispose()
