"""The Slack side of Nephthys: a Bolt (asyncio) app mounted at /slack/events.

How a request is handled, in order:

1. ``inbound.checked_body`` checks the signature over the raw bytes (v0, 5-minute window)
   before anything parses them: unsigned, forged or stale requests get 401, whatever the
   body; a signed body Bolt could not read, or an event envelope without its event or a
   string ``event_id``, gets 400 (logged once, told to the heartbeat channel). Bolt is given
   the body parsed there, and does not check the signature again.
2. ``claim_delivery`` (a global middleware) cleans what PostgreSQL would refuse (NUL
   characters, lone surrogates), then records the event's ``event_id`` in PostgreSQL, a
   fast insert: a redelivery already taken is answered 200 and dropped; an unreachable
   database is answered 503, so Slack redelivers later; anything else the database refuses
   is answered 400 (so Slack stops retrying) and told to the heartbeat channel.
3. The listener hands the slow work to a background task and returns, so Slack gets
   its acknowledgement at once (``process_before_response=True``: Bolt answers when
   the listener returns; actions call ``ack()`` first). A ``message`` event, the Slack
   path's usual request, takes these same steps without Bolt's per-request machinery
   (``_message_event``).
4. The background task calls the lifecycle through ``flows``; a delivery is marked
   processed when its work is done.

``start_slack`` also starts, in the background so Slack being unreachable never
blocks start-up: auth.test, the helper sync and the start-up heartbeat (retried
with backoff), the scheduled jobs, and Socket Mode when SLACK_APP_TOKEN is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp

if TYPE_CHECKING:  # imported when Socket Mode is used (SLACK_APP_TOKEN set)
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.ignoring_self_events import IgnoringSelfEvents
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from nephthys.config import ConfigError, Settings
from nephthys.database.outage import DATABASE_RETRY_DELAYS, database_unavailable, refused_for_content
from nephthys.slack import (
    actions,
    closing,
    deliveries,
    events,
    flows,
    follow_up,
    helpers,
    inbound,
    memory,
    tags,
)
from nephthys.slack.client import SlackClient
from nephthys.slack.context import Channels, SlackContext
from nephthys.slack.heartbeat import Heartbeat
from nephthys.slack.home import listeners as home
from nephthys.slack.home.publisher import HomePublisher
from nephthys.slack.mentions import neutralise_mentions
from nephthys.slack.messages import RESOLVE_ACTION
from nephthys.slack.repair import REPAIR_GRACE, RepairReport, repair_tickets
from nephthys.stats.memo import StatsV2Memo
from nephthys.tasks.registry import add_scheduled_jobs
from nephthys.tasks.scheduler import Job, Scheduler
from nephthys.transcripts import load_transcript
from nephthys.utils.clock import Clock, utc_now

log = logging.getLogger(__name__)

STARTUP_RETRY_MAX_SECONDS = 60
# Events handled at once after their acknowledgement. The rest wait their turn, so a burst
# never takes every pooled database connection from the acknowledgement path (the claim).
CONCURRENT_EVENTS = 16
STOP_DRAIN_SECONDS = 10
REPAIR_EVERY_SECONDS = 30
REPLAY_EVERY_SECONDS = 30
PRUNE_EVENTS_EVERY_SECONDS = 3600
EVENTS_KEPT = timedelta(days=2)
HELPER_SYNC_EVERY_SECONDS = 6 * 3600


def may_pass(error: BaseException) -> bool:
    """The database or Slack was unreachable or overloaded: the same work may succeed later."""
    if isinstance(error, SlackApiError):
        return flows.is_transient(error)
    return database_unavailable(error) or isinstance(error, aiohttp.ClientError)


def channels_for(settings: Settings, transcript) -> Channels:
    """The program's channels, each overridden by its SLACK_*_CHANNEL setting."""
    help_channel = settings.slack_help_channel or transcript.channels.help
    tickets_channel = settings.slack_ticket_channel or transcript.channels.tickets
    if help_channel is None:
        raise ConfigError("SLACK_HELP_CHANNEL: expected a Slack channel id like C0123456789, got nothing")
    if tickets_channel is None:
        raise ConfigError("SLACK_TICKET_CHANNEL: expected a Slack channel id like C0123456789, got nothing")
    return Channels(
        help=help_channel,
        tickets=tickets_channel,
        bts=settings.slack_bts_channel or transcript.channels.bts,
        heartbeat=settings.slack_heartbeat_channel or transcript.channels.heartbeat,
    )


class SlackService:
    """What the HTTP app holds: ``handle(request)``, ``healthy`` and ``stop()``."""

    def __init__(
        self,
        ctx: SlackContext,
        http: aiohttp.ClientSession,
        *,
        claims: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self.ctx = ctx
        self._http = http
        # The deliveries' claims, before each acknowledgement: a pool of their own when given
        # (nephthys/database/engine.py, CLAIM_CONNECTIONS); see _claim_sessions.
        self._claims = claims
        self.ready = asyncio.Event()  # auth.test and the helper sync have succeeded
        self._stopping = False
        self._startup: asyncio.Task | None = None
        self._socket_mode: AsyncSocketModeHandler | None = None
        self._socket_mode_connecting: asyncio.Task | None = None
        self._event_slots = asyncio.Semaphore(CONCURRENT_EVENTS)
        if ctx.home is None:
            ctx.home = HomePublisher(ctx)
        # What each Events API event type does; the replay job uses the same table.
        self.event_handlers = {
            "message": events.on_message,
            "member_joined_channel": events.on_member_joined,
            "member_left_channel": events.on_member_left,
            "app_home_opened": home.on_app_home_opened,
        }
        self.bolt = self._build_bolt_app()
        self.scheduler = Scheduler(
            ctx.sessions,
            [
                Job("slack-repair", REPAIR_EVERY_SECONDS, self.repair_now),
                Job("slack-replay-events", REPLAY_EVERY_SECONDS, self.replay_unfinished_events),
                Job("slack-prune-events", PRUNE_EVENTS_EVERY_SECONDS, self._prune_events),
                Job("slack-helper-sync", HELPER_SYNC_EVERY_SECONDS, lambda: helpers.sync_helpers(ctx)),
            ],
            clock=ctx.clock,
        )
        # The daily summary, stale tickets, unanswered alerts and tag digests (docs/jobs.md).
        add_scheduled_jobs(self)

    # ------------------------------------------------------------ the HTTP side

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        checked = inbound.checked_body(raw, request.headers, self.ctx.settings.slack_signing_secret or "")
        if isinstance(checked, inbound.Refusal):
            refusal = checked
        else:
            try:
                return await self._dispatch(request, raw, checked)
            except Exception as error:
                # Listener failures are answered by ``on_error``; what escapes is Bolt reading the
                # payload's fields before any listener runs (a "user" that is a number, a null
                # "view"). Slack sends no such payload: refused, and told once, like one not JSON.
                refusal = inbound.Refusal(
                    400, f"signed, but Bolt could not read it ({type(error).__name__}: {error})", signed=True
                )
        if refusal.signed:
            self._tell_refused(f"a Slack request was refused ({refusal.status}): {refusal.reason}")
        else:
            log.warning("Slack request refused (%s): %s", refusal.status, refusal.reason)
        code = "invalid_signature" if refusal.status == 401 else "bad_request"
        return JSONResponse({"error": code}, status_code=refusal.status)

    async def _dispatch(self, request: Request, raw: bytes, body: dict) -> Response:
        """Bolt's handling of a checked request, given the body ``inbound`` already parsed (Bolt's
        Starlette adapter would parse the same bytes again, and check the signature again)."""
        if body.get("type") == "event_callback" and body["event"].get("type") == "message":
            return to_starlette_response(await self._message_event(body))
        # Bolt takes a parsed body only in Socket Mode's shape; the request is then marked as the
        # HTTP request it is, with its raw text, as Bolt keeps it for an HTTP request.
        bolt_request = AsyncBoltRequest(
            body=body,
            query=request.query_params,  # type: ignore[arg-type]
            headers=request.headers,  # type: ignore[arg-type]
            mode="socket_mode",
        )
        bolt_request.mode = "http"
        bolt_request.raw_body = raw.decode("utf-8")  # inbound decoded it already: it is UTF-8
        return to_starlette_response(await self.bolt.async_dispatch(bolt_request))

    def _tell_refused(self, what: str) -> None:
        """Log a refused signed request once and tell the heartbeat channel, without delaying the answer."""
        self.ctx.background.spawn(self.ctx.alert(f":warning: {what}"), name="refusal alert")

    @property
    def healthy(self) -> bool:
        return self.ready.is_set() and not self._stopping

    # ------------------------------------------------------------ Bolt

    def _build_bolt_app(self) -> AsyncApp:
        ctx = self.ctx

        # Bolt injects arguments by parameter name, so it gets plain functions, not bound methods.
        async def authorize(enterprise_id, team_id, user_id) -> AuthorizeResult:
            return self._authorize(enterprise_id, team_id, user_id)

        async def claim_delivery(body, context, next):
            return await self._claim_delivery(body, context, next)

        async def resolve_clicked(ack, body):
            await ack()
            self.after_ack("A Resolve click", lambda: actions.on_resolve_clicked(self.ctx, body))

        async def on_error(error, body):
            log.error("Slack request failed: %s", error, exc_info=error)
            return BoltResponse(status=500, body="")

        app = AsyncApp(
            # No token on this client: ``authorize`` answers from memory, so no request
            # waits on auth.test (Slack may be unreachable); our own calls use ctx.client.
            client=AsyncWebClient(base_url=ctx.settings.slack_api_base_url),
            signing_secret=ctx.settings.slack_signing_secret,
            authorize=authorize,
            # ``handle`` lets Bolt have only requests whose signature ``inbound`` checked (the same
            # v0 check over the same bytes), and Socket Mode's are not signed: checked once.
            request_verification_enabled=False,
            process_before_response=True,
            name="nephthys",
        )
        app.middleware(claim_delivery)
        for event_type, handler in self.event_handlers.items():
            on_ack = events.expect_question if event_type == "message" else None
            app.event(event_type)(self._on_event(handler, on_ack=on_ack))
        app.action(RESOLVE_ACTION)(resolve_clicked)
        tags.register(app, ctx, self.after_ack)  # team tags and question tags: selects, App Home, modals
        closing.register(app, ctx, self.after_ack)  # the closing message: Re-open, Give feedback, its modal
        follow_up.register(app, ctx, self.after_ack)  # the asker follow-up's nudge: Yes, I still need help
        home.register(app, ctx, self.after_ack)  # the App Home's views, paging, Resolve, tag administration
        memory.register(app, ctx, self.after_ack)  # the drafted answer's Send to the asker
        app.error(on_error)
        return app

    def _authorize(self, enterprise_id, team_id, user_id) -> AuthorizeResult:
        identity = self.ctx.identity
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id or identity.team_id,
            bot_user_id=identity.user_id,
            bot_id=identity.bot_id,
            bot_token=self.ctx.settings.slack_bot_token,
            user_id=user_id,
        )

    async def _claim_delivery(self, body: dict, context, next):
        """Take the event's ``event_id`` before acknowledging it (see the module docstring)."""
        # PostgreSQL refuses NUL characters and UTF-8 has no lone surrogates: cleaned, the
        # question still becomes a ticket. In place, so the listeners get the cleaned event.
        if cleaned := inbound.clean_payload(body):
            log.warning("%d string(s) of a Slack request held NULs or lone surrogates; cleaned", cleaned)
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not event_id:
            return await next()
        try:
            claimed = await deliveries.claim_event(self._claim_sessions(), event_id, body.get("event"))
        except Exception as error:
            if refused_for_content(error) and not database_unavailable(error):
                # The database refused the event itself: a redelivery would be refused too.
                self._tell_refused(
                    f"Slack event {neutralise_mentions(event_id)} was refused (400): the database would not store it "
                    f"({type(error).__name__})"
                )
                return BoltResponse(status=400, body="")
            if not database_unavailable(error):
                log.exception("event %s not taken", event_id)
                return BoltResponse(status=500, body="")
            log.error(
                "event %s not taken, the database is unreachable (%s); Slack will redeliver", event_id, error
            )
            return BoltResponse(status=503, body="database unavailable")
        if not claimed:
            log.info("event %s already taken; redelivery dropped", event_id)
            return BoltResponse(status=200, body="")
        context["nephthys_event_id"] = event_id
        return await next()

    def _claim_sessions(self) -> async_sessionmaker[AsyncSession]:
        """The claims' own pool while one of its connections is free, else the Slack pool.

        On the Slack pool alone a claim queued for a connection behind the events being handled
        (16 at once, some waiting on a surge's lock with their connection), up to 0.6-0.9 s in a
        burst. On their own pool alone, when the loop is saturated a claim holds its connection for
        several loop turns and 4 connections could not keep up (acknowledgements waited seconds):
        so a claim overflows to the Slack pool rather than wait (issue 23).
        """
        if self._claims is not None:
            pool = self._claims.kw["bind"].sync_engine.pool
            if pool.checkedout() < pool.size():  # type: ignore[attr-defined]
                return self._claims
        return self.ctx.sessions

    async def _message_event(self, body: dict) -> BoltResponse:
        """A ``message`` event (every question and reply) as Bolt handles it, without Bolt's
        per-request work (a Web API client built per request, the listener matching, the kwargs
        injection: ~10% of a question's CPU in the Slack bench). The same steps, with Bolt's own
        readers: the context read from the body, the bot's own messages acknowledged and dropped
        (Bolt's ``IgnoringSelfEvents``), then the claim, then the listener's work."""
        context = build_async_context(AsyncBoltContext(), body)
        event = body["event"]
        authorized = self._authorize(context.enterprise_id, context.team_id, context.user_id)
        if IgnoringSelfEvents._is_self_event(authorized, context.user_id, event.get("bot_id"), body):
            return BoltResponse(status=200, body="")
        taken: dict = {}

        async def listen() -> BoltResponse:
            handler = self.event_handlers["message"]
            self._take_event(taken.get("nephthys_event_id"), handler, event, events.expect_question)
            return BoltResponse(status=200, body="")

        return await self._claim_delivery(body, taken, listen)

    def _take_event(self, event_id: str | None, handler, event: dict, on_ack=None) -> None:
        """An acknowledged event's work, started in the background."""
        if on_ack is not None:
            on_ack(self.ctx, event)
        self.ctx.background.spawn(self._process(event_id, handler, event), name=f"event {event_id}")

    def _on_event(self, handler, *, on_ack=None):
        async def listener(body: dict, event: dict, context) -> None:
            self._take_event(context.get("nephthys_event_id"), handler, event, on_ack)

        listener.__name__ = handler.__name__
        return listener

    async def _process(self, event_id: str | None, handler, event: dict) -> None:
        """Handle an acknowledged event, then mark its delivery processed (unless it is worth replaying)."""
        settled = await self._until_done(
            f"event {event_id} ({event.get('type')})", "A Slack event", lambda: handler(self.ctx, event)
        )
        if settled and event_id:
            try:
                await deliveries.finish_event(self.ctx.sessions, event_id)
            except Exception as error:
                log.warning("event %s done but not marked processed: %s", event_id, error)

    def after_ack(self, kind: str, work: Callable[[], Awaitable[object]]) -> None:
        """Run an acknowledged click's work in the background, retried while the database is away."""
        self.ctx.background.spawn(self._until_done(kind, kind, work), name=kind)

    async def _until_done(self, what: str, kind: str, work) -> bool:
        """Run acknowledged work; if the database drops out mid-way, run it again.

        Slack will not redeliver what it got a 2xx for, and every step is idempotent,
        so the whole piece of work is tried again while the database is away (about a
        minute). Other failures are logged (``what``) and reported in the heartbeat channel
        (``kind``: no ids, so an outage is one note, not one per event).

        True when the work is settled: done, or failed in a way that trying again would
        repeat (so the replay job leaves it alone). False when the failure may pass (the
        database or Slack unreachable, Slack overloaded): the replay job tries it later.
        """
        for delay in (*DATABASE_RETRY_DELAYS, None):
            try:
                async with self._event_slots:
                    await work()
                return True
            except Exception as error:
                if delay is not None and database_unavailable(error) and not self._stopping:
                    log.warning("%s: database unavailable (%s); trying again in %s s", what, error, delay)
                    await asyncio.sleep(delay)
                    continue
                log.exception("%s failed", what)
                await self.ctx.alert(f":warning: {kind} could not be handled: {flows.describe(error)}")
                return not may_pass(error)
        return False

    # ------------------------------------------------------------ lifecycle

    def start(self, *, run_jobs: bool = True) -> None:
        """Start the start-up work, Socket Mode when configured, and (``run_jobs``) the scheduled jobs."""
        self._startup = asyncio.get_running_loop().create_task(self._start_up(), name="slack start-up")
        if run_jobs:
            self.scheduler.start()
        if self.ctx.settings.slack_app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            handler = AsyncSocketModeHandler(self.bolt, self.ctx.settings.slack_app_token)
            self._socket_mode = handler
            self._socket_mode_connecting = asyncio.get_running_loop().create_task(
                self._connect_socket_mode(handler), name="socket mode"
            )

    async def _start_up(self) -> None:
        """auth.test and the helper sync, then the start-up heartbeat; each retried until Slack answers."""
        await self._retry("auth.test and helper sync", self._identify_and_sync)
        self.ready.set()
        heartbeat = self.ctx.heartbeat
        if heartbeat is None:  # no heartbeat to post to, as in ctx.alert
            return
        await self._retry(
            "start-up heartbeat",
            lambda: heartbeat.started(
                program=self.ctx.settings.program, environment=self.ctx.settings.environment
            ),
        )

    async def _identify_and_sync(self) -> None:
        self.ctx.identity = await self.ctx.client.identity()
        await helpers.sync_helpers(self.ctx)

    async def _retry(self, what: str, step) -> None:
        delay = 1.0
        while True:
            try:
                await step()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "Slack start-up: %s failed (%s); retrying in %.0f s", what, flows.describe(error), delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, STARTUP_RETRY_MAX_SECONDS)

    async def _connect_socket_mode(self, handler: AsyncSocketModeHandler) -> None:
        await self._retry("Socket Mode connection", handler.connect_async)

    async def started(self) -> None:
        """Wait until the start-up work (auth.test, helper sync, heartbeat) is done."""
        if self._startup is not None:
            await asyncio.shield(self._startup)

    async def repair_now(self, *, grace: timedelta = REPAIR_GRACE) -> RepairReport:
        """Run the repair job once, here and now (the scheduler runs it every REPAIR_EVERY_SECONDS)."""
        return await repair_tickets(self.ctx, grace=grace)

    async def replay_unfinished_events(self, *, after: timedelta = deliveries.REPLAY_AFTER) -> list[str]:
        """Do the work of deliveries claimed but never finished (the instance that took them
        died after acknowledging them, so Slack will not send them again); returns their ids."""
        taken = await deliveries.take_unfinished_events(self.ctx.sessions, after=after)
        for event_id, event in taken:
            event_type = event.get("type")
            handler = self.event_handlers.get(event_type) if isinstance(event_type, str) else None
            if handler is None:
                await deliveries.finish_event(self.ctx.sessions, event_id)
                continue
            log.warning(
                "replaying event %s (%s), left unfinished by its instance", event_id, event.get("type")
            )
            await self._process(event_id, handler, event)
        return [event_id for event_id, _ in taken]

    async def _prune_events(self) -> None:
        await deliveries.prune_events(self.ctx.sessions, older_than=self.ctx.clock() - EVENTS_KEPT)

    async def drain(self, within: float | None = None) -> bool:
        """Wait for the work started by requests so far (and what it starts) to finish."""
        return await self.ctx.background.drain(within)

    async def stop(self) -> None:
        self._stopping = True
        await self.scheduler.stop()
        if self._startup is not None:
            self._startup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._startup
        if self._socket_mode_connecting is not None:
            self._socket_mode_connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._socket_mode_connecting
        if self._socket_mode is not None:
            with contextlib.suppress(Exception):
                await self._socket_mode.close_async()
        if not await self.ctx.background.drain(STOP_DRAIN_SECONDS):
            log.warning("stopping with %d Slack tasks unfinished", self.ctx.background.pending)
            await self.ctx.background.cancel()
        await self._http.close()


async def start_slack(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    stats_v2_memo: StatsV2Memo | None = None,
    claims: async_sessionmaker[AsyncSession] | None = None,
    clock: Clock = utc_now,
    run_jobs: bool = True,
) -> SlackService:
    """Start the Slack integration; returns at once (Slack start-up work goes on in the background).

    ``stats_v2_memo``: the one /api/stats_v2 uses, so the App Home shows the same computation.
    ``claims``: the deliveries' claims' own sessions (``sessions`` when not given).
    ``clock``: "now" for the scheduler and every job. ``run_jobs``: False leaves the scheduler
    stopped (its jobs can still be run by hand: ``nephthys jobs run``, or a test).
    """
    transcript = load_transcript(settings.program)
    channels = channels_for(settings, transcript)
    http = aiohttp.ClientSession()
    client = SlackClient(settings, http)
    ctx = SlackContext(
        settings=settings,
        sessions=sessions,
        client=client,
        transcript=transcript,
        channels=channels,
        heartbeat=Heartbeat(client, channels.heartbeat),
        clock=clock,
    )
    ctx.home = HomePublisher(ctx, stats_v2_memo=stats_v2_memo)
    service = SlackService(ctx, http, claims=claims)
    service.start(run_jobs=run_jobs)
    return service
