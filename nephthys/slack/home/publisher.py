"""Chooses a person's App Home view, loads its data, remembers the choice and publishes it.

- **Which view**: the one asked for (a header button, a page button), if the person may see
  it; else the one they last chose (``User.appHomeLastView``); else their first view. A view
  they may not see, asked for with a forged value, is refused with a notice on their default.
- **Coalescing**: Slack sends ``app_home_opened`` often (every tab switch). Repeats from one
  person within ``coalesce_seconds`` of the last one taken are dropped: the Home they are
  about to see was rendered moments ago.
- **Ordering**: every render takes a number when it is asked for. A render finished after a
  newer one was published is dropped, and ``views.publish`` gets the ``hash`` of the last view
  published (Slack answers ``hash_conflict`` if someone else published since, e.g. another
  instance: that render is dropped and the next one goes without the stale hash).
- **Slow and failed renders**: a render still loading after ``loading_after`` seconds has a
  loading view published first; a render that fails publishes an error view with a retry
  button, never nothing.
- **Live refresh**: ``ticket_changed(helper)`` republishes that helper's Home when it shows
  "Assigned to me", at most once every ``live_every`` seconds (the first at once, later ones
  folded into one at the end of the interval).

Data comes from ``nephthys.stats`` and the lifecycle's reads; each view's blocks from its module.

**Bound**: what the publisher remembers per person (the last view and page shown, the hash and
number of the last render published, when they last opened the Home and were last refreshed,
about 500 bytes) is kept for at most ``max_people`` people (default :data:`MAX_PEOPLE`), the least
recently seen forgotten first (enforced in :meth:`HomePublisher._person`). A forgotten person's
next Home is published without a ``hash`` and starts on page 1 of their remembered view; their
publishing lock lives only while a publish holds or waits for it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from nephthys.slack.client import error_code
from nephthys.slack.context import KeyedLocks, SlackContext
from nephthys.slack.home import assigned, dashboard, my_questions, my_stats, question_tags, search, team_tags
from nephthys.slack.home.common import (
    MAX_BLOCKS,
    RETRY_BUTTON,
    View,
    button,
    header,
    header_blocks,
    mrkdwn_section,
    page_of,
    view_named,
    views_for,
)
from nephthys.stats import home as home_stats
from nephthys.stats.memo import StatsV2Memo
from nephthys.stats.overview import MessageLinks
from nephthys.tags import service as tag_service
from nephthys.tickets import lifecycle
from nephthys.tickets.lifecycle import Viewer

log = logging.getLogger(__name__)

LOADING_AFTER_SECONDS = 1.0
COALESCE_SECONDS = 3.0
LIVE_EVERY_SECONDS = 5.0
# People whose Home state is remembered (see the module's docstring).
MAX_PEOPLE = 10_000


@dataclass(frozen=True)
class Shown:
    view: View
    page: int


@dataclass
class _Person:
    """What the publisher remembers about one person's Home."""

    newest_published: int = 0
    hash: str | None = None
    shown: Shown | None = None
    last_opened: float | None = None
    live_last: float = -math.inf


class HomePublisher:
    def __init__(
        self, ctx: SlackContext, *, stats_v2_memo: StatsV2Memo | None = None, max_people: int = MAX_PEOPLE
    ) -> None:
        self.ctx = ctx
        self.stats_v2_memo = stats_v2_memo or StatsV2Memo()
        self.figures_memo = home_stats.HomeFiguresMemo()
        self.loading_after = LOADING_AFTER_SECONDS
        self.coalesce_seconds = COALESCE_SECONDS
        self.live_every = LIVE_EVERY_SECONDS
        self.max_people = max_people
        self._renders = itertools.count(1)
        self._people: OrderedDict[str, _Person] = OrderedDict()
        self._publishing = KeyedLocks()
        self._live_pending: set[str] = set()

    def _person(self, slack_id: str) -> _Person:
        """The person's remembered state (made if new), now the most recently seen; the bound is kept here."""
        person = self._people.get(slack_id)
        if person is None:
            person = self._people[slack_id] = _Person()
        self._people.move_to_end(slack_id)
        while len(self._people) > self.max_people:
            self._people.popitem(last=False)
        return person

    def people_remembered(self) -> int:
        """How many people's Home state is remembered (at most ``max_people``)."""
        return len(self._people)

    # ------------------------------------------------------------ what Slack tells us

    def saw_view(self, slack_id: str, view: dict | None) -> None:
        """Slack showed us the person's current Home (in an event or a click): take its hash if we have none."""
        view_hash = (view or {}).get("hash")
        person = self._person(slack_id)
        if isinstance(view_hash, str) and view_hash and person.hash is None:
            person.hash = view_hash

    async def opened(self, slack_id: str, view: dict | None = None) -> bool:
        """``app_home_opened``: show the Home, unless this person's last open was moments ago."""
        self.saw_view(slack_id, view)
        now = asyncio.get_running_loop().time()
        person = self._person(slack_id)
        if person.last_opened is not None and now - person.last_opened < self.coalesce_seconds:
            log.debug("app_home_opened from %s coalesced", slack_id)
            return False
        person.last_opened = now
        await self.show(slack_id)
        return True

    # ------------------------------------------------------------ rendering and publishing

    async def show(
        self,
        slack_id: str,
        *,
        view: View | None = None,
        page: int | None = None,
        notice: str | None = None,
        remember: bool = False,
    ) -> None:
        """Render and publish the person's Home (``view`` when asked for; see the module docstring)."""
        render = next(self._renders)
        task = asyncio.ensure_future(self._render(slack_id, view, page, notice, remember))
        try:
            blocks = await asyncio.wait_for(asyncio.shield(task), self.loading_after)
        except TimeoutError:
            await self._publish(slack_id, render, self._loading_blocks())
            blocks = await task
        await self._publish(slack_id, render, blocks)

    async def _render(
        self, slack_id: str, requested: View | None, page: int | None, notice: str | None, remember: bool
    ) -> list[dict]:
        """The Home's blocks; an error view (with a retry button) if anything fails."""
        shown = Shown(requested or View.DASHBOARD, page or 1)
        try:
            viewer = await lifecycle.viewer(
                self.ctx.sessions, slack_id=slack_id, maintainer_id=self.ctx.settings.slack_maintainer_id
            )
            allowed = views_for(helper=viewer.helper, admin=viewer.admin)
            if requested is not None and requested not in allowed:
                notice = self.ctx.transcript.text("app_home_helpers_only")
                requested, remember = None, False
            last = view_named(viewer.last_view)
            view = requested or (last if last in allowed else allowed[0])
            if page is None:
                previous = self._person(slack_id).shown
                page = previous.page if previous is not None and previous.view is view else 1
            shown = Shown(view, page)
            if remember and viewer.last_view != view.value:
                await lifecycle.remember_home_view(self.ctx.sessions, slack_id=slack_id, view=view.value)
            body, shown_page = await self._view_blocks(viewer, view, page)
            self._person(slack_id).shown = Shown(view, shown_page)
            blocks = [
                *header_blocks(
                    self.ctx.transcript,
                    title=self.ctx.settings.app_title,
                    views=allowed,
                    current=view,
                    notice=notice,
                    extra=search.search_actions(self.ctx.transcript)
                    if viewer.helper or viewer.admin
                    else None,
                ),
                *body,
            ]
            if len(blocks) > MAX_BLOCKS:
                raise ValueError(f"the {view.value} view has {len(blocks)} blocks (at most {MAX_BLOCKS})")
            return blocks
        except Exception:
            log.exception("the App Home of %s (%s) could not be rendered", slack_id, shown.view.value)
            return self._error_blocks(shown)

    async def _publish(self, slack_id: str, render: int, blocks: list[dict]) -> bool:
        """Publish unless a newer render is already up; False when this one was dropped."""
        async with self._publishing.hold(slack_id):
            if render < self._person(slack_id).newest_published:
                log.debug("render %d of %s's Home dropped: a newer one is published", render, slack_id)
                return False
            arguments: dict = {"user_id": slack_id, "view": {"type": "home", "blocks": blocks}}
            known_hash = self._person(slack_id).hash
            if known_hash is not None:
                arguments["hash"] = known_hash
            try:
                response = await self.ctx.client.web.views_publish(**arguments)
            except SlackApiError as error:
                if error_code(error) != "hash_conflict":
                    raise
                # Someone else published since our last view: theirs stays, and our next render
                # goes without the stale hash.
                log.info("render %d of %s's Home dropped: hash_conflict", render, slack_id)
                self._person(slack_id).hash = None
                return False
            view_hash = (response.get("view") or {}).get("hash")
            person = self._person(slack_id)
            if view_hash:
                person.hash = view_hash
            person.newest_published = render
            return True

    def _loading_blocks(self) -> list[dict]:
        transcript = self.ctx.transcript
        return [header(self.ctx.settings.app_title), mrkdwn_section(transcript.text("app_home_loading"))]

    def _error_blocks(self, shown: Shown) -> list[dict]:
        transcript = self.ctx.transcript
        retry = button(
            transcript.text("app_home_retry_button"),
            RETRY_BUTTON,
            value=f"{shown.view.value}:{shown.page}",
            style="primary",
        )
        return [
            header(self.ctx.settings.app_title),
            mrkdwn_section(transcript.text("app_home_error"), block_id="home_error", accessory=retry),
        ]

    # ------------------------------------------------------------ each view's data

    def _thread_link(self, msg_ts: str) -> str:
        return self.ctx.permalink(self.ctx.channels.help, msg_ts)

    def _links(self) -> MessageLinks:
        return MessageLinks(self.ctx.settings.slack_workspace_url, self.ctx.channels.help)

    async def _view_blocks(self, viewer: Viewer, view: View, page: int) -> tuple[list[dict], int]:
        """The view's own blocks (under the header) and the page they show."""
        transcript, engine = self.ctx.transcript, self.ctx.sessions.kw["bind"]
        if view is View.DASHBOARD:
            async with engine.connect() as connection:
                figures = await home_stats.dashboard_figures(
                    connection, self.stats_v2_memo, self._links(), viewer_slack_id=viewer.slack_id
                )
            return dashboard.blocks(transcript, figures), 1
        if view is View.ASSIGNED:
            return await self._assigned_blocks(viewer, page)
        if view is View.TEAM_TAGS:
            async with self.ctx.sessions() as session:
                tags = await tag_service.tags_with_subscribers(session)
            shown_page = page_of(page, total=len(tags), size=team_tags.PAGE_SIZE)
            return (
                team_tags.blocks(
                    transcript,
                    tags,
                    viewer_slack_id=viewer.slack_id,
                    helper=viewer.helper,
                    admin=viewer.admin,
                    page=shown_page,
                ),
                shown_page.number,
            )
        if view is View.QUESTION_TAGS:
            async with engine.connect() as connection:
                counted = await home_stats.current_question_tag_figures(connection, self.figures_memo)
            shown_page = page_of(page, total=len(counted), size=question_tags.PAGE_SIZE)
            return (
                question_tags.blocks(
                    transcript, counted, helper=viewer.helper, admin=viewer.admin, page=shown_page
                ),
                shown_page.number,
            )
        if view is View.MY_STATS:
            async with engine.connect() as connection:
                own = await home_stats.helper_figures(
                    connection,
                    self.stats_v2_memo,
                    self._links(),
                    slack_id=viewer.slack_id,
                    figures_memo=self.figures_memo,
                )
            return my_stats.blocks(transcript, own, feedback_offered=self.ctx.settings.feedback), 1
        asked = await lifecycle.tickets_asked_by(
            self.ctx.sessions, slack_id=viewer.slack_id, limit=my_questions.SHOWN
        )
        return (
            my_questions.blocks(
                transcript, asked, help_channel=self.ctx.channels.help, thread_link=self._thread_link
            ),
            1,
        )

    async def _assigned_blocks(self, viewer: Viewer, page: int) -> tuple[list[dict], int]:
        size = assigned.PAGE_SIZE
        requested = max(page, 1)
        found = await lifecycle.assigned_tickets(
            self.ctx.sessions, helper_slack_id=viewer.slack_id, offset=(requested - 1) * size, limit=size
        )
        shown_page = page_of(requested, total=found.total, size=size)
        if shown_page.number != requested:  # past the last page (it shrank, or a forged number)
            found = await lifecycle.assigned_tickets(
                self.ctx.sessions, helper_slack_id=viewer.slack_id, offset=shown_page.offset, limit=size
            )
            shown_page = page_of(shown_page.number, total=found.total, size=size)
        blocks = assigned.blocks(
            self.ctx.transcript,
            found.tickets,
            total=found.total,
            page=shown_page,
            now=self.ctx.clock(),
            thread_link=self._thread_link,
        )
        return blocks, shown_page.number

    # ------------------------------------------------------------ live refresh

    def ticket_changed(self, helper_slack_id: str | None) -> None:
        """Something changed on a ticket assigned to this helper: refresh their Home (debounced)."""
        if not helper_slack_id or helper_slack_id in self._live_pending:
            return
        now = asyncio.get_running_loop().time()
        delay = max(0.0, self._person(helper_slack_id).live_last + self.live_every - now)
        self._live_pending.add(helper_slack_id)
        self.ctx.background.spawn(
            self._live_refresh(helper_slack_id, delay), name=f"App Home live refresh of {helper_slack_id}"
        )

    async def _live_refresh(self, slack_id: str, delay: float) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
        finally:
            self._live_pending.discard(slack_id)
        self._person(slack_id).live_last = asyncio.get_running_loop().time()
        viewer = await lifecycle.viewer(
            self.ctx.sessions, slack_id=slack_id, maintainer_id=self.ctx.settings.slack_maintainer_id
        )
        if viewer.last_view != View.ASSIGNED.value or not (viewer.helper or viewer.admin):
            return
        await self.show(slack_id, view=View.ASSIGNED)
