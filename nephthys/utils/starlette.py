"""Assembles the HTTP app: routes, lifespan (database, Slack) and middleware. Nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import configure_mappers
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nephthys.api.active_tickets import ActiveTicketsMemo
from nephthys.api.health import health
from nephthys.api.middleware import api_middleware
from nephthys.api.routes import api_routes
from nephthys.config import Settings
from nephthys.dashboard import dashboard_routes
from nephthys.database.engine import open_connections, open_pools, session_factory
from nephthys.database.outage import database_unavailable
from nephthys.sla.install import Batch
from nephthys.slack.app import start_slack
from nephthys.stats.memo import StatsV2Memo
from nephthys.tasks import memory_reindex, sla_recompute, ticket_json
from nephthys.tasks.scheduler import Scheduler
from nephthys.tickets.support_minutes import install_calendar_at_start
from nephthys.utils.body_limit import BodySizeLimitMiddleware
from nephthys.utils.clock import Clock, utc_now
from nephthys.utils.heap import freeze_start_up_objects

log = logging.getLogger(__name__)

# How long start-up waits for the Slack pool's connections (open_connections): a slow database only
# leaves them to be opened when first needed.
OPEN_CONNECTIONS_WITHIN_SECONDS = 5.0


async def slack_events(request: Request) -> JSONResponse:
    slack = request.app.state.slack
    if slack is None:
        return JSONResponse({"error": "slack_disabled"}, status_code=503)
    return await slack.handle(request)


async def read_active_tickets_at_start(
    memo: ActiveTicketsMemo, engine: AsyncEngine, settings: Settings
) -> None:
    """The copies of the open and in-progress tickets, read (and joined as an anonymous request gets
    them) before the first request, at 1M tickets ~80,000 objects and a few hundred ms of start-up,
    rather than by it. With the database unreachable the service starts anyway and the first
    request reads them."""
    try:
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            await memo.read_at_start(driver, descriptions=settings.api_descriptions == "public")
    except Exception as error:
        if not database_unavailable(error):
            raise
        log.warning("active tickets: database unavailable at start (%s); the first request reads them", error)


def create_app(
    settings: Settings,
    *,
    database_url: str,
    clock: Clock = utc_now,
    run_jobs: bool = True,
    between_sla_batches: Callable[[Batch], Awaitable[None]] | None = None,
    own_process: bool = False,
) -> Starlette:
    """The app. ``clock``: "now" for the scheduler and every job; ``run_jobs``: False leaves the
    schedulers stopped (tests that do not test them, so nothing runs for the machine's real hour);
    ``between_sla_batches``: awaited after each batch of the SLA clocks' recompute (a test pauses it);
    ``own_process``: the process and its database connections are this app's own (``nephthys
    serve``), so start-up readies it for a burst of Slack events: the Slack side's pools open all their
    connections (nephthys/database/engine.py, ``open_connections``) and what start-up made is left out
    of later garbage collections (nephthys/utils/heap.py). Not in tests: their process is shared by
    many apps, and six workers' apps share one test server's ``max_connections``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.settings = settings
        # The API, the Slack side and /health each get a pool: API load never delays Slack or /health.
        pools = open_pools(database_url, settings)
        # The ORM's mappers are set up at the first ORM statement unless asked: ~30 ms of CPU that
        # a burst's first questions would wait on (issue 23).
        configure_mappers()
        app.state.engine, app.state.health_engine = pools.api, pools.health
        app.state.sessions = session_factory(pools.api)
        # Stored support minutes follow this service's calendar before anything is answered; the SLA
        # clocks follow a changed policy in the background (the sla-recompute job below).
        calendar_install = await install_calendar_at_start(
            app.state.sessions, settings.support_calendar, settings.sla_policy
        )
        app.state.slack = None
        # One memo for /api/stats_v2 and the App Home, so both show the same computation.
        app.state.stats_v2_memo = StatsV2Memo()
        app.state.active_tickets = ActiveTicketsMemo(settings.api_status_case, settings.support_calendar)
        await read_active_tickets_at_start(app.state.active_tickets, pools.api, settings)
        # Jobs of the API itself, run with Slack on or off.
        api_jobs = Scheduler(
            app.state.sessions,
            [
                ticket_json.job(app.state.sessions),
                memory_reindex.job(app.state.sessions),
                sla_recompute.job(app.state.sessions, between_batches=between_sla_batches),
            ],
            clock=clock,
        )
        if run_jobs:
            api_jobs.start()
        if settings.slack_enabled:
            if own_process:
                # Opened before the first event, not by a burst's first acknowledgements.
                await asyncio.gather(
                    open_connections(pools.slack, within=OPEN_CONNECTIONS_WITHIN_SECONDS),
                    open_connections(pools.claims, within=OPEN_CONNECTIONS_WITHIN_SECONDS),
                )
            app.state.slack = await start_slack(
                settings,
                session_factory(pools.slack),
                claims=session_factory(pools.claims),
                stats_v2_memo=app.state.stats_v2_memo,
                clock=clock,
                run_jobs=run_jobs,
            )
        else:
            log.warning(
                "Slack is off: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not both set; "
                "serving the API only (/slack/events answers 503)"
            )
        if own_process:  # last: everything start-up made is left out of later collections
            freeze_start_up_objects()
        try:
            yield
        finally:
            if calendar_install is not None:
                calendar_install.cancel()
            await api_jobs.stop()
            if app.state.slack is not None:
                await app.state.slack.stop()
            await pools.dispose()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/slack/events", slack_events, methods=["POST"]),
        *api_routes(),
        *dashboard_routes(),
    ]
    # The body limit is innermost, so its refusal is counted by the metrics like any answer.
    middleware = [*api_middleware(settings), Middleware(BodySizeLimitMiddleware)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
