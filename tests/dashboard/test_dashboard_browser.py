"""The dashboard at / in a real Chromium, against the real service (uvicorn) on a database of known tickets.

What a person would see: the numbers equal the API's, the charts drew, links go to the
right Slack threads, nothing is fetched from outside the service, the page stays light,
fits a phone's width, refreshes with If-None-Match, says when the service is gone, and
asks for a key when the API wants one; and that it reads: no text overprints another (canvas
text included), counts are grouped by thousands, today is marked as partial, and text people
wrote is isolated from the page's own.

Set NEPHTHYS_DASHBOARD_SCREENSHOT=docs/dashboard.png to (re)take the screenshot in docs/.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.generate import Shape, fill
from tests.api.data import add_ticket, add_user, database_now
from tests.conftest import make_app, make_settings
from tests.support import postgres
from tests.support.server import running

HELP_CHANNEL = "C0HELP0001"
WORKSPACE = "https://hackclub.slack.com"
MAX_PAGE_BYTES = 300_000
SECTIONS = ["numbers", "times", "daily", "resolution", "hang", "queue"]
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
REFRESH_MS = 30_000


def thread_link(msg_ts: str) -> str:
    return f"{WORKSPACE}/archives/{HELP_CHANNEL}/p{msg_ts.replace('.', '')}"


# The page's formatting (dashboard.js), written again to read what it shows. The browser's
# locale is set to en-US (dashboard() below), so its Intl.NumberFormat groups thousands with ",".
def shown_count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def shown_duration(minutes: float | None) -> str:
    if minutes is None:
        return "–"
    if minutes < 60:
        return f"{math.floor(minutes + 0.5):,} min"
    if minutes < 2880:
        return f"{minutes / 60:,.1f} h"
    return f"{minutes / 1440:,.1f} d"


async def seed(url: str) -> dict[str, Any]:
    """Nine tickets over the last ten days, none near a window's edge (the page's clock may differ a little)."""
    now = await database_now(url)
    first = await add_user(url, "UHELPERA", helper=True)
    second = await add_user(url, "UHELPERB", helper=True)
    asker = await add_user(url, "UASKER")

    def closed(created: datetime, hang: timedelta, resolution: timedelta, by: int) -> dict:
        return dict(status="CLOSED", created_at=created, assigned_to=by, assigned_at=created + hang,
                    closed_by=by, closed_at=created + resolution, last_msg_by="HELPER")  # fmt: skip

    await add_ticket(url, opened_by=asker, **closed(now - 2 * DAY, 10 * MINUTE, 45 * MINUTE, first))
    await add_ticket(url, opened_by=asker, **closed(now - 5 * DAY, 3 * MINUTE, 3 * HOUR, first))
    await add_ticket(url, opened_by=asker, **closed(now - 10 * DAY, 40 * MINUTE, 2 * DAY, second))
    await add_ticket(url, opened_by=asker, **closed(now - 20 * HOUR, 2 * MINUTE, 20 * MINUTE, second))
    await add_ticket(url, opened_by=asker, created_at=now - 3 * DAY, status="IN_PROGRESS", assigned_to=first,
                     assigned_at=now - 3 * DAY + 25 * MINUTE, last_msg_by="HELPER")  # fmt: skip
    # A reopened question whose last word was a helper's: open, but not waiting for one.
    await add_ticket(url, opened_by=asker, created_at=now - 4 * DAY, last_msg_at=now - 3 * DAY,
                     last_msg_by="HELPER", title="Answered, then reopened", msg_ts="1700000001.000400")  # fmt: skip
    queue = [
        dict(title="Printer on fire", created_at=now - (30 * HOUR + 20 * MINUTE), last_msg_by="AUTHOR",
             msg_ts="1700000001.000100", description="It smells of toner"),
        dict(title="VPN drops every hour", created_at=now - 6 * HOUR - 10 * MINUTE, last_msg_by="OTHER",
             msg_ts="1700000001.000200", description="Since Tuesday"),
        dict(title="Cannot log in", created_at=now - 2 * DAY, last_msg_at=now - 50 * MINUTE, last_msg_by="AUTHOR",
             msg_ts="1700000001.000300", description="Password reset loops"),
    ]  # fmt: skip
    for ticket in queue:
        await add_ticket(url, opened_by=asker, **ticket)
    # The answered tickets' first responses, as the lifecycle folds them when every minute counts.
    await postgres.execute(
        url,
        """INSERT INTO "TicketSpan" ("ticketId", kind, "startAt", "endAt", "actorId", "ticketCreatedAt", minutes)
           SELECT id, 'FIRST_RESPONSE', "createdAt", "assignedAt", "assignedToId", "createdAt",
                  extract(epoch FROM "assignedAt" - "createdAt") / 60
           FROM "Ticket" WHERE "assignedAt" IS NOT NULL""",
    )
    return {"queue": queue}


@dataclass
class Watched:
    """A page and everything it asked for and said."""

    page: Any
    base_url: str
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)

    async def api_json(self, path_prefix: str) -> Any:
        """The body of the last 200 the page got for a URL starting with ``path_prefix``."""
        for response in reversed(self.responses):
            if response.url.startswith(self.base_url + path_prefix) and response.status == 200:
                return await response.json()
        raise AssertionError(f"the page fetched nothing at {path_prefix}")

    async def renders(self) -> dict[str, int]:
        return await self.page.evaluate(
            "ids => Object.fromEntries(ids.map(id => [id, Number(document.getElementById(id).dataset.renders || 0)]))",
            SECTIONS,
        )


@contextlib.asynccontextmanager
async def dashboard(
    browser, base_url: str, *, width: int = 1280, height: int = 900, fake_clock: bool = False,
    storage: dict[str, str] | None = None, color_scheme: str = "light",
) -> AsyncIterator[Watched]:  # fmt: skip
    # A fixed locale: the page formats numbers in the browser's, which would otherwise be the machine's.
    context = await browser.new_context(
        viewport={"width": width, "height": height}, color_scheme=color_scheme, locale="en-US"
    )
    # Every text the charts draw on their canvas, recorded with its box (see TEXT_BOXES).
    await context.add_init_script(RECORD_CANVAS_TEXT)
    page = await context.new_page()
    watched = Watched(page, base_url)

    async def refuse_outside(route) -> None:
        watched.blocked.append(route.request.url)
        await route.abort()

    # Anything not on the service is recorded and refused: the test fails on it rather than waiting on it.
    await context.route(lambda url: not url.startswith(base_url), refuse_outside)
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on("response", lambda response: watched.responses.append(response))
    page.on(
        "console", lambda message: message.type == "error" and watched.console_errors.append(message.text)
    )
    page.on("pageerror", lambda error: watched.console_errors.append(f"uncaught: {error}"))
    if storage:
        await context.add_init_script(
            "".join(f"localStorage.setItem({key!r}, {value!r});" for key, value in storage.items())
        )
    if fake_clock:
        # Noon UTC today: the page's 30-day window (dates in its URLs) cannot roll over midnight mid-test.
        await page.clock.install(time=datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0))
    try:
        yield watched
    finally:
        await context.close()


async def next_refresh(page) -> None:
    """Let the page's 30-second timer fire, and wait for that round to finish ("Updated" moves on)."""
    updated = await page.get_attribute("#updated time", "datetime")
    await page.clock.run_for(REFRESH_MS)
    await page.wait_for_function(
        "before => document.querySelector('#updated time').dateTime !== before", arg=updated
    )


async def loaded(watched: Watched) -> None:
    await watched.page.goto(watched.base_url + "/")
    await watched.page.wait_for_function(
        "ids => ids.every(id => document.getElementById(id).dataset.renders)", arg=SECTIONS
    )


CHART_PIXELS = """([container, bars]) => {
    const u = container.uplot, canvas = container.querySelector('canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const alpha = (x, y) => pixels[(Math.round(y) * canvas.width + Math.round(x)) * 4 + 3];
    const at = [];
    for (let s = 1; s < u.series.length; s++) {
        for (let i = 0; i < u.data[0].length; i++) {
            const value = u.data[s][i];
            if (value == null || value === 0) continue;
            // Bars are filled down to zero: look half-way; points and lines are at the value.
            const y = bars ? value / 2 : value;
            at.push(alpha(u.valToPos(u.data[0][i], 'x', true), u.valToPos(y, u.series[s].scale, true)));
        }
    }
    const rect = canvas.getBoundingClientRect();
    return {width: rect.width, height: rect.height, alphas: at,
            legend: [...container.querySelectorAll('.u-legend .u-label')].map(e => e.textContent)};
}"""


# Installed before the page's scripts: each canvas keeps the texts of its last full drawing (uPlot
# clears the whole canvas before each), each with its ink box in canvas pixels, through whatever
# transform was in force (uPlot rotates the y axes' titles).
RECORD_CANVAS_TEXT = """(() => {
    const proto = CanvasRenderingContext2D.prototype;
    const { fillText, clearRect } = proto;
    proto.clearRect = function (x, y, w, h) {
        if (x <= 0 && y <= 0 && w >= this.canvas.width && h >= this.canvas.height) this.canvas.drawnTexts = [];
        return clearRect.apply(this, arguments);
    };
    proto.fillText = function (text, x, y) {
        const m = this.measureText(text), t = this.getTransform();
        const corners = [x - m.actualBoundingBoxLeft, x + m.actualBoundingBoxRight]
            .flatMap((px) => [y - m.actualBoundingBoxAscent, y + m.actualBoundingBoxDescent].map((py) => [px, py]))
            .map(([px, py]) => t.transformPoint(new DOMPoint(px, py)));
        const xs = corners.map((p) => p.x), ys = corners.map((p) => p.y);
        (this.canvas.drawnTexts ||= []).push({ text: String(text), left: Math.min(...xs), right: Math.max(...xs),
                                               top: Math.min(...ys), bottom: Math.max(...ys),
                                               rotated: t.b !== 0 || t.c !== 0 });
        return fillText.apply(this, arguments);
    };
})();"""

# Every piece of text inside an element, with its box on the page: the canvas's drawn texts (above)
# and each DOM text node's line boxes (the labels the page places over a chart, the legend), cut to
# what overflow leaves visible (a clamped description's hidden lines are not on screen). A rotated
# text (a y axis's title) claims its whole column beside the plot: a tick label anywhere in that
# column would overprint it at some scale, whichever ticks today's data happen to bring.
TEXT_BOXES = """(root) => {
    const boxes = [];
    for (const canvas of root.querySelectorAll('canvas')) {
        const rect = canvas.getBoundingClientRect(), scale = rect.width / canvas.width;
        const plot = canvas.closest('.chart').uplot.bbox;
        (canvas.drawnTexts || []).forEach((t, i) => boxes.push({
            text: t.text, owner: `canvas ${i}`, left: rect.left + t.left * scale, right: rect.left + t.right * scale,
            top: rect.top + (t.rotated ? plot.top : t.top) * scale,
            bottom: rect.top + (t.rotated ? plot.top + plot.height : t.bottom) * scale }));
    }
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    let n = 0;
    for (let node; (node = walker.nextNode()); n++) {
        if (!node.textContent.trim()) continue;
        let clip = { left: -Infinity, right: Infinity, top: -Infinity, bottom: Infinity };
        for (let e = node.parentElement; e; e = e.parentElement) {
            const style = getComputedStyle(e);
            if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
            const r = e.getBoundingClientRect();
            clip = { left: Math.max(clip.left, r.left), right: Math.min(clip.right, r.right),
                     top: Math.max(clip.top, r.top), bottom: Math.min(clip.bottom, r.bottom) };
        }
        const range = document.createRange();
        range.selectNodeContents(node);
        for (const r of range.getClientRects()) {
            const box = { text: node.textContent, owner: `node ${n}`, left: Math.max(r.left, clip.left),
                          right: Math.min(r.right, clip.right), top: Math.max(r.top, clip.top),
                          bottom: Math.min(r.bottom, clip.bottom) };
            if (box.right > box.left && box.bottom > box.top) boxes.push(box);
        }
    }
    return boxes;
}"""


async def overprinted(page, selector: str) -> list[tuple[str, str]]:
    """The pairs of texts inside ``selector`` whose boxes overlap by more than a pixel each way."""
    boxes = await page.eval_on_selector(selector, TEXT_BOXES)
    assert boxes, f"no text found in {selector}"
    clashes = []
    for i, first in enumerate(boxes):
        for second in boxes[i + 1 :]:
            if first["owner"] == second["owner"]:
                continue  # the lines of one wrapped text
            across = min(first["right"], second["right"]) - max(first["left"], second["left"])
            down = min(first["bottom"], second["bottom"]) - max(first["top"], second["top"])
            if across > 1 and down > 1:
                clashes.append((first["text"], second["text"]))
    return clashes


async def chart_drawn_text(page, chart_id: str) -> list[str]:
    return await page.eval_on_selector(
        f"#{chart_id}-chart canvas", "canvas => (canvas.drawnTexts || []).map(t => t.text)"
    )


async def chart_pixels(page, chart_id: str) -> dict:
    return await page.evaluate(
        CHART_PIXELS, [await page.query_selector(f"#{chart_id}-chart"), chart_id != "daily"]
    )


async def test_the_dashboard_shows_the_apis_figures_and_fits_a_phone(serve, db_url, browser):
    seeded = await seed(db_url)
    async with serve(slack_help_channel=HELP_CHANNEL) as client:
        base_url = str(client.base_url).rstrip("/")
        async with dashboard(browser, base_url) as watched:
            await loaded(watched)
            page = watched.page
            stats = await watched.api_json("/api/stats_v2")
            queue = await watched.api_json("/api/unanswered")

            # The numbers are the API's, and the API's are those of the tickets above.
            independent = (await client.get("/api/stats_v2")).json()
            for key in ("tickets_total", "tickets_open", "tickets_in_progress", "tickets_closed"):
                assert stats["all_time"][key] == independent["all_time"][key]
            assert [stats["all_time"][key] for key in ("tickets_total", "tickets_open", "tickets_in_progress",
                                                       "tickets_closed")] == [9, 4, 1, 4]  # fmt: skip
            for shown in await page.query_selector_all("[data-field]"):
                path = await shown.get_attribute("data-field")
                value: Any = stats
                for key in path.split("."):
                    value = value[key]
                formatted = (
                    shown_duration if await shown.get_attribute("data-format") == "duration" else shown_count
                )
                assert await shown.inner_text() == formatted(value), path
            # First response in support hours, from /api/stats/response_times (all time).
            times = await watched.api_json("/api/stats/response_times")
            assert times["first_response"]["count"] == 5
            for shown in await page.query_selector_all("[data-response]"):
                path = await shown.get_attribute("data-response")
                measure, figure = path.split(".")
                assert await shown.inner_text() == shown_duration(times[measure][figure]), path
            for window, period in (("past_24h", "24 hours"), ("past_7d", "7 days")):
                for key in ("new_tickets_total", "closed_today"):
                    change = stats[window][key] - stats[f"{window}_previous"][key]
                    text = await page.inner_text(f'[data-change="{window}.{key}"]')
                    sign = "=" if change == 0 else ("▲ +" if change > 0 else "▼ −")
                    assert text.startswith(sign) and period in text, (window, key, text)
                    if change:
                        assert f"{abs(change)} vs the previous {period}" in text

            # The oldest unanswered question links to its thread.
            oldest = stats["all_time"]["oldest_unanswered_ticket"]
            assert oldest["link"] == thread_link("1700000001.000100")
            assert await page.get_attribute("#oldest a", "href") == oldest["link"]

            # The queue: waiting questions only, longest-waiting first, each linked to its thread.
            links = await page.eval_on_selector_all(
                "#queue-list a", "links => links.map(a => [a.textContent, a.href])"
            )
            expected = [(ticket["title"], thread_link(ticket["msg_ts"])) for ticket in seeded["queue"]]
            assert [tuple(link) for link in links] == expected
            assert [ticket["link"] for ticket in queue["tickets"]] == [link for _, link in expected]
            assert "Answered, then reopened" not in await page.inner_text("#queue")

            # The 7-day leaderboard: the helpers who closed tickets in the last 7 days, most first.
            board = stats["past_7d"]["helpers_leaderboard"]
            assert [(entry["slack_id"], entry["count"]) for entry in board] == [
                ("UHELPERA", 2),
                ("UHELPERB", 1),
            ]
            rows = await page.eval_on_selector_all(
                "#leaderboard-list li",
                "rows => rows.map(r => [r.querySelector('.name').textContent, "
                "r.querySelector('.count').textContent])",
            )
            assert rows == [
                [entry.get("username") or entry["slack_id"], str(entry["count"])] for entry in board
            ]

            # The charts drew their data, at a sensible size, with their series named.
            daily = await watched.api_json("/api/stats/daily")
            assert len(daily["days"]) == 30
            for chart_id, names in (("daily", ["New", "Closed", "Backlog"]), ("resolution", ["Tickets"]),
                                    ("hang", ["Tickets"])):  # fmt: skip
                drawn = await chart_pixels(page, chart_id)
                assert drawn["width"] >= 300 and drawn["height"] >= 150, (chart_id, drawn)
                assert drawn["alphas"], f"{chart_id}: no data point to look at"
                assert all(alpha > 0 for alpha in drawn["alphas"]), (chart_id, drawn["alphas"])
                assert [name for name in names if name in drawn["legend"]] == names, drawn["legend"]
            for metric in ("resolution", "hang"):
                distribution = await watched.api_json(f"/api/stats/distribution?metric={metric}")
                summary = await page.inner_text(f"#{metric} [data-summary]")
                assert f"median {shown_duration(distribution['percentiles']['p50'])}" in summary
                assert f"90th percentile {shown_duration(distribution['percentiles']['p90'])}" in summary
                assert summary.startswith(f"{distribution['count']} tickets")

            assert "Updated" in await page.inner_text("#updated")
            assert await page.is_hidden("#unreachable")
            assert await page.is_hidden("#key-form")

            # Light, and nothing from anywhere else.
            assert watched.blocked == []
            assert all(url.startswith(base_url + "/") or url.startswith("data:") for url in watched.requests)
            answered = [response for response in watched.responses if response.status == 200]
            weight = sum([len(await response.body()) for response in answered])
            sent = sum([(await response.request.sizes())["responseBodySize"] for response in answered])
            print(f"dashboard weight: {weight} bytes decoded, {sent} bytes sent, {len(answered)} requests")
            assert weight <= MAX_PAGE_BYTES, weight
            assert watched.console_errors == []

            if target := os.environ.get("NEPHTHYS_DASHBOARD_SCREENSHOT"):
                await page.screenshot(path=str(Path(target)), full_page=True)

        # A phone's width, in dark mode: no sideways scrolling, and the charts still drew, inside the screen.
        async with dashboard(browser, base_url, width=375, height=812, color_scheme="dark") as phone:
            await loaded(phone)
            background = await phone.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(20, 23, 28)", background  # --bg of prefers-color-scheme: dark
            widths = await phone.page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1] == 375, widths
            for chart_id in ("daily", "resolution", "hang"):
                drawn = await chart_pixels(phone.page, chart_id)
                assert 200 <= drawn["width"] <= 375 and drawn["height"] >= 150, (chart_id, drawn)
                assert drawn["alphas"] and all(alpha > 0 for alpha in drawn["alphas"])
            assert phone.console_errors == []
            if target := os.environ.get("NEPHTHYS_DASHBOARD_SCREENSHOT"):
                await phone.page.screenshot(
                    path=str(Path(target).with_name("dashboard-phone-dark.png")), full_page=True
                )


async def test_a_refresh_with_nothing_new_redraws_nothing_and_a_lost_service_keeps_the_figures(
    db_url, browser
):
    await seed(db_url)
    app = make_app(make_settings(database_url=db_url, slack_help_channel=HELP_CHANNEL))
    service = running(app)
    base_url = await service.__aenter__()
    service_running = True
    try:
        async with dashboard(browser, base_url, fake_clock=True) as watched:
            await loaded(watched)
            page = watched.page
            before = await watched.renders()
            total_before = await page.inner_text('[data-field="all_time.tickets_total"]')

            # Nothing changed: every section's request comes back 304 and nothing is drawn again.
            watched.responses.clear()
            await next_refresh(page)
            statuses = {response.url.split("?")[0].removeprefix(base_url): response.status
                        for response in watched.responses if "/api/" in response.url}  # fmt: skip
            assert set(statuses.values()) == {304}, statuses
            assert await watched.renders() == before

            # A new ticket: the numbers change on the next refresh.
            asker = await add_user(db_url, "UNEWASKER")
            await add_ticket(
                db_url, opened_by=asker, created_at=await database_now(db_url) - HOUR, title="New one"
            )
            await next_refresh(page)
            total_after = str(int(total_before) + 1)
            assert await page.inner_text('[data-field="all_time.tickets_total"]') == total_after
            assert "New one" in await page.inner_text("#queue-list")

            # The service goes away: the page says so and keeps the last figures.
            await service.__aexit__(None, None, None)
            service_running = False
            await page.clock.run_for(REFRESH_MS)
            await page.wait_for_selector("#unreachable:not([hidden])")
            assert "cannot be reached" in await page.inner_text("#unreachable")
            assert await page.inner_text('[data-field="all_time.tickets_total"]') == total_after
            assert "New one" in await page.inner_text("#queue-list")
    finally:
        if service_running:
            await service.__aexit__(None, None, None)


async def created_key(db_url: str, name: str) -> str:
    """``nephthys api-keys create NAME``, as an operator runs it: its last line is the key."""
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nephthys", "api-keys", "create", name,
        env={"PATH": os.environ["PATH"], "DATABASE_URL": db_url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, errors = await command.communicate()
    assert command.returncode == 0, errors.decode()
    return output.decode().strip().splitlines()[-1]


@pytest.mark.parametrize("required_by", ["API_ACCESS=keys", "API_TOKEN"])
async def test_the_page_asks_for_a_key_keeps_it_and_forgets_it(serve, db_url, browser, required_by):
    await seed(db_url)
    if required_by == "API_ACCESS=keys":
        key = await created_key(db_url, "dashboard")
        settings: dict[str, Any] = {"api_access": "keys"}
    else:
        key = "the-right-token-0123456789"
        settings = {"api_token": key}
    async with serve(slack_help_channel=HELP_CHANNEL, **settings) as client:
        base_url = str(client.base_url).rstrip("/")
        async with dashboard(browser, base_url) as watched:
            page = watched.page
            await page.goto(base_url + "/")
            await page.wait_for_selector("#key-form:not([hidden])")
            assert "needs an API key" in await page.inner_text("#key-form")
            assert await page.inner_text('[data-field="all_time.tickets_total"]') == "–"

            await page.fill("#key-input", "nph_a-wrong-key")
            await page.click("#key-form button[type=submit]")
            await page.wait_for_function(
                "() => document.querySelector('#key-message').textContent.includes('refused')"
            )

            await page.fill("#key-input", key)
            await page.click("#key-form button[type=submit]")
            await page.wait_for_function("() => document.getElementById('numbers').dataset.renders")
            # Refused requests are logged by the browser itself; nothing else may be.
            assert [error for error in watched.console_errors if "status of 401" not in error] == []
            assert await page.is_hidden("#key-form")
            assert await page.inner_text('[data-field="all_time.tickets_total"]') == "9"
            assert await page.evaluate("() => localStorage.getItem('nephthys-dashboard-api-key')") == key

            # A new visit uses the kept key without asking.
            await page.reload()
            await page.wait_for_function("() => document.getElementById('numbers').dataset.renders")
            assert await page.is_hidden("#key-form")

            await page.click("#forget-key")
            await page.wait_for_selector("#key-form:not([hidden])")
            assert await page.evaluate("() => localStorage.getItem('nephthys-dashboard-api-key')") is None
            assert "needs an API key" in await page.inner_text("#key-form")
            assert watched.blocked == []


async def test_question_text_shows_only_with_a_key_when_api_descriptions_is_keys(serve, db_url, browser):
    seeded = await seed(db_url)
    key = await created_key(db_url, "lead")
    async with serve(slack_help_channel=HELP_CHANNEL, api_descriptions="keys") as client:
        base_url = str(client.base_url).rstrip("/")
        async with dashboard(browser, base_url) as watched:
            page = watched.page
            await loaded(watched)
            titles = [ticket["title"] for ticket in seeded["queue"]]
            descriptions = [ticket["description"] for ticket in seeded["queue"]]
            queue_text = await page.inner_text("#queue-list")
            # The seeded titles are the questions' first words (not AI-written): hidden too (issue 18 §5).
            assert not any(title in queue_text for title in titles)
            assert queue_text.count("Ticket #") == len(titles)
            assert not any(description in queue_text for description in descriptions)
            assert await page.is_hidden("#key-form")  # the figures need no key

            await page.click("#queue-key")
            await page.fill("#key-input", key)
            await page.click("#key-form button[type=submit]")
            await page.wait_for_function("() => document.querySelector('#queue-list .description')")
            queue_text = await page.inner_text("#queue-list")
            assert all(description in queue_text for description in descriptions)
            assert all(title in queue_text for title in titles)
            assert await page.is_hidden("#queue-key") and await page.is_hidden("#key-form")

            await page.click("#forget-key")
            await page.wait_for_selector("#queue-key:not([hidden])")
            queue_text = await page.inner_text("#queue-list")
            assert not any(description in queue_text for description in descriptions)
            assert not any(title in queue_text for title in titles)
            assert watched.console_errors == [] and watched.blocked == []


async def test_the_page_and_its_files_are_compressed_and_cached(serve):
    async with serve() as client:
        page = await client.get("/", headers={"Accept-Encoding": "gzip"})
        script = await client.get("/static/dashboard.js", headers={"Accept-Encoding": "gzip"})
        library = await client.get(
            "/static/vendor/uplot-1.6.32/uPlot.iife.min.js", headers={"Accept-Encoding": "gzip"}
        )
        again = await client.get("/static/dashboard.js", headers={"If-None-Match": script.headers["etag"]})
        refused = await client.post("/")
        missing = await client.get("/static/nothing.js")
        licence = await client.get("/static/vendor/uplot-1.6.32/LICENSE")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script" in page.text
    for answer in (page, script, library):
        assert answer.headers["content-encoding"] == "gzip"
    assert page.headers["cache-control"] == script.headers["cache-control"] == "no-cache"
    assert library.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert page.headers["content-security-policy"].startswith("default-src 'self';")
    assert again.status_code == 304
    assert (refused.status_code, refused.json()) == (405, {"error": "method_not_allowed"})
    assert (missing.status_code, missing.json()) == (404, {"error": "not_found"})
    assert "MIT License" in licence.text


# A busy month (bench/generate.py's data): thousands of tickets, 4-digit histogram bars, a long queue.
BUSY_MONTH = Shape(tickets=6000, users=400, helpers=12, tags=3, question_tags=3, days=30, live=False)

# Where the lowest card of each half of <main> ends: equal when no column is left empty beside a long one.
COLUMN_BOTTOMS = """() => {
    const main = document.querySelector('main').getBoundingClientRect(), middle = main.left + main.width / 2;
    let left = 0, right = 0;
    for (const card of document.querySelectorAll('main > section')) {
        const box = card.getBoundingClientRect();
        if (box.left < middle) left = Math.max(left, box.bottom);
        if (box.right > middle) right = Math.max(right, box.bottom);
    }
    return [left, right];
}"""

# The 30-day chart's x (page pixels) of its last two days, and the box of the band marking the last.
PARTIAL_DAY = """(container) => {
    const u = container.uplot, over = u.over.getBoundingClientRect(), days = u.data[0];
    const band = container.querySelector('.partial-day');
    return { today: over.left + u.valToPos(days.at(-1), 'x'), yesterday: over.left + u.valToPos(days.at(-2), 'x'),
             band: band && (({left, right, top, bottom}) => ({left, right, top, bottom}))(band.getBoundingClientRect()),
             label: container.querySelector('.partial-day-label')?.textContent };
}"""


async def legend_values(page, chart_id: str) -> dict[str, str]:
    return dict(
        await page.eval_on_selector_all(
            f"#{chart_id}-chart .u-legend .u-series",
            "rows => rows.map(r => [r.querySelector('.u-label').textContent, r.querySelector('.u-value').textContent])",
        )
    )


async def test_a_busy_month_reads_without_overprinting_with_grouped_numbers_and_today_marked(
    serve, db_url, browser
):
    now = await database_now(db_url)
    await fill(
        db_url, BUSY_MONTH, now=now.replace(microsecond=now.microsecond // 1000 * 1000), log=lambda *_: None
    )
    async with serve(slack_help_channel=HELP_CHANNEL) as client:
        base_url = str(client.base_url).rstrip("/")
        async with dashboard(browser, base_url) as watched:
            await loaded(watched)
            page = watched.page
            stats = await watched.api_json("/api/stats_v2")
            queue = await watched.api_json("/api/unanswered")
            daily = await watched.api_json("/api/stats/daily")

            # Counts are grouped by thousands, as the charts' axes are ("6,000", not "6000").
            assert stats["all_time"]["tickets_total"] == 6000
            assert await page.inner_text('[data-field="all_time.tickets_total"]') == "6,000"
            for shown in await page.query_selector_all("[data-field]:not([data-format])"):
                path = await shown.get_attribute("data-field")
                value: Any = stats
                for key in path.split("."):
                    value = value[key]
                assert await shown.inner_text() == shown_count(value), path
            for metric in ("resolution", "hang"):
                distribution = await watched.api_json(f"/api/stats/distribution?metric={metric}")
                assert distribution["count"] >= 1000
                summary = await page.inner_text(f"#{metric} [data-summary]")
                assert summary.startswith(f"{distribution['count']:,} tickets opened since"), summary
                assert (await legend_values(page, metric))["Tickets"] == f"{distribution['count']:,}"
            assert (await page.inner_text("#queue-note")).startswith(f"{queue['total']:,} waiting")

            # No text overprints another: the y axes' titles beside 4-digit ticks, the line-end labels,
            # the percentile labels, the legends, the marks of today.
            assert any("," in text for text in await chart_drawn_text(page, "resolution"))
            assert "tickets" in await chart_drawn_text(page, "resolution")
            assert await overprinted(page, "main") == []

            # Today is still going: its point stands apart on a band labelled so, and the legend says so.
            partial = await page.eval_on_selector("#daily-chart", PARTIAL_DAY)
            assert partial["label"] == "today (so far)"
            band = partial["band"]
            assert band is not None, partial
            assert band["left"] < partial["today"] < band["right"], partial
            assert not band["left"] < partial["yesterday"] < band["right"], partial
            # Not hovered, each legend shows the latest values rather than dashes.
            latest = daily["days"][-1]
            assert await legend_values(page, "daily") == {
                "Day": f"{latest['date']}, today (so far)",
                "New": shown_count(latest["new_tickets"]),
                "Closed": shown_count(latest["closed_tickets"]),
                "Backlog": shown_count(latest["unresolved_at_end"]),
            }
            for metric in ("resolution", "hang"):
                assert (await legend_values(page, metric))["Time"] == "all"

            # The long queue leaves no column empty beside it.
            assert queue["total"] > 50
            left, right = await page.evaluate(COLUMN_BOTTOMS)
            assert abs(left - right) < 1, (left, right)
            assert watched.console_errors == []

        async with dashboard(browser, base_url, width=375, height=812, color_scheme="dark") as phone:
            await loaded(phone)
            assert await overprinted(phone.page, "main") == []
            assert phone.console_errors == []


async def test_an_empty_desk_and_a_single_ticket_read_without_overprinting(serve, db_url, browser):
    async with serve(slack_help_channel=HELP_CHANNEL) as client:
        base_url = str(client.base_url).rstrip("/")
        for width in (1280, 375):
            async with dashboard(browser, base_url, width=width) as watched:
                # Every line at 0: their end labels once printed on top of one another.
                await loaded(watched)
                assert await overprinted(watched.page, "main") == [], width
                summary = await watched.page.inner_text("#resolution [data-summary]")
                assert summary.startswith("No resolved tickets opened since "), summary

        now = await database_now(db_url)
        helper = await add_user(db_url, "UHELPERA", helper=True)
        asker = await add_user(db_url, "UASKER")
        await add_ticket(db_url, opened_by=asker, status="CLOSED", created_at=now - 3 * HOUR,
                         assigned_to=helper, assigned_at=now - 3 * HOUR + 5 * MINUTE, closed_by=helper,
                         closed_at=now - 2 * HOUR, last_msg_by="HELPER")  # fmt: skip
        async with dashboard(browser, base_url) as watched:
            await loaded(watched)
            page = watched.page
            for metric in ("resolution", "hang"):
                summary = await page.inner_text(f"#{metric} [data-summary]")
                assert summary.startswith("1 ticket opened since"), summary
            assert await overprinted(page, "main") == []
            assert watched.console_errors == []


OVERRIDE = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: reverses what follows it, up to the end of its paragraph


async def test_user_text_is_isolated_and_helpers_show_by_username(serve, db_url, browser):
    now = await database_now(db_url)
    first = await add_user(db_url, "UHELPERA", helper=True)
    second = await add_user(db_url, "UHELPERB", helper=True)
    asker = await add_user(db_url, "UASKER")
    for closer, hours in ((first, 5), (first, 4), (second, 3)):
        await add_ticket(db_url, opened_by=asker, status="CLOSED", created_at=now - hours * HOUR,
                         assigned_to=closer, assigned_at=now - hours * HOUR + MINUTE, closed_by=closer,
                         closed_at=now - HOUR, last_msg_by="HELPER")  # fmt: skip
    await add_ticket(db_url, opened_by=asker, created_at=now - 2 * HOUR, title=f"{OVERRIDE}Printer on fire",
                     description=f"{OVERRIDE}It smells of toner")  # fmt: skip
    # Leaderboard entries gain `username` (string or null, after `count`) on another branch: this
    # test serves it, one helper named (with an override in the name) and one not.
    usernames = {"UHELPERA": f"{OVERRIDE}orla", "UHELPERB": None}

    async def with_usernames(route) -> None:
        response = await route.fetch()
        if response.status != 200:
            await route.fulfill(response=response)
            return
        stats = await response.json()
        for entry in stats["past_7d"]["helpers_leaderboard"]:
            entry["username"] = usernames[entry["slack_id"]]
        await route.fulfill(response=response, json=stats)

    async with serve(slack_help_channel=HELP_CHANNEL) as client:
        base_url = str(client.base_url).rstrip("/")
        async with dashboard(browser, base_url) as watched:
            page = watched.page
            await page.route(f"{base_url}/api/stats_v2", with_usernames)
            await loaded(watched)

            # The title's override stays inside the title: "waiting …" still reads after it, left to right.
            link, waiting = await page.eval_on_selector(
                "#queue-list li",
                "li => [li.querySelector('a'), li.querySelector('.waiting')].map(e => { "
                "const r = e.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top}; })",
            )
            assert abs(waiting["top"] - link["top"]) < 5, (link, waiting)  # one line
            assert waiting["left"] >= link["right"] - 0.5, (link, waiting)

            # Named helpers show by name, the others by id; the count still reads after the name.
            rows = await page.eval_on_selector_all(
                "#leaderboard-list li",
                "rows => rows.map(r => [r.querySelector('.name').textContent, r.querySelector('.count').textContent,"
                " r.querySelector('.name').getBoundingClientRect().right,"
                " r.querySelector('.count').getBoundingClientRect().left])",
            )
            assert [row[:2] for row in rows] == [[f"{OVERRIDE}orla", "2"], ["UHELPERB", "1"]]
            assert all(name_right <= count_left for _, _, name_right, count_left in rows), rows

            # Every text a person wrote sits in an isolated element (<bdi>, or dir="auto").
            isolation = await page.evaluate(
                """() => {
                    const found = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                    for (let node; (node = walker.nextNode());) {
                        if (node.textContent.includes('\u202e')) {
                            found.push([node.textContent, getComputedStyle(node.parentElement).unicodeBidi]);
                        }
                    }
                    return found;
                }"""
            )
            assert sorted(text for text, _ in isolation) == sorted(
                [f"{OVERRIDE}Printer on fire", f"{OVERRIDE}It smells of toner", f"{OVERRIDE}orla"]
            )
            assert all(style == "isolate" for _, style in isolation), isolation
            assert watched.console_errors == []


def test_the_vendored_library_is_the_pinned_one():
    script = Path(__file__).parents[2] / "scripts" / "vendor-uplot"
    static = Path(__file__).parents[2] / "nephthys" / "static"
    pinned = next(line for line in script.read_text().splitlines() if line.startswith("VERSION="))
    version = pinned.split('"')[1]
    assert sorted(path.name for path in (static / "vendor").iterdir()) == [f"uplot-{version}"]
    index = (static / "index.html").read_text()
    assert f"/static/vendor/uplot-{version}/uPlot.iife.min.js" in index
    assert all(url.startswith("/static/") for url in _asset_urls(index))


def _asset_urls(html: str) -> list[str]:
    import re

    return re.findall(r'(?:src|href)="([^"#][^"]*)"', html.replace('href="data:,"', ""))
