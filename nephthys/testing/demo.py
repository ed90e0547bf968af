"""``nephthys demo``: the whole service on this machine, talking to a fake Slack instead of Slack.

It starts the fake Slack Web API, fills it with a small workspace (an asker, two helpers, the
bot), runs the service against it (Web API calls go to the fake, events are signed with a demo
secret) and, unless told not to, walks one question through its life: asked, answered by a
helper, resolved with the button. Then it keeps both running so you can look around:

- ``GET  http://HOST:SLACK_PORT/_fake/state``  what the bot did in "Slack" (calls, messages, reactions)
- ``POST http://HOST:SLACK_PORT/_demo/say``    ``{"user": "U0ALICE001", "text": "...", "thread_ts": null}``
  posts a message in the help channel as that user (the service receives the signed event)
- the service's own API on ``http://HOST:PORT``

Nothing here ever reaches the real Slack or a real database: tokens, secret and channels are the
demo's own, and so is its PostgreSQL (a throw-away one in a temporary folder, deleted on exit).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nephthys.config import Settings
from nephthys.testing.fake_slack import FakeSlack, RecordedCall
from nephthys.testing.slack_requests import (
    SIGNING_SECRET,
    SlackDelivery,
    block_actions,
    button,
    question,
    thread_reply,
)
from nephthys.utils import stopping

log = logging.getLogger("nephthys.demo")

HELP_CHANNEL = "C0DEMOHELP"
TICKET_CHANNEL = "C0DEMOTICKETS"
BTS_CHANNEL = "C0DEMOBTS"
HEARTBEAT_CHANNEL = "C0DEMOBEAT"
ASKER = "U0ALICE001"
HELPERS = ("U0HELEN001", "U0HARRY001")
DEMO_BOT_TOKEN = "xoxb-nephthys-demo"
DEMO_USER_TOKEN = "xoxp-nephthys-demo"
WAIT_SECONDS = 10.0


def populate(fake: FakeSlack) -> None:
    """The demo workspace: its channels, an asker, two helpers in the team channel."""
    fake.add_user(ASKER, name="alice", real_name="Alice Liddell")
    fake.add_user(HELPERS[0], name="helen", real_name="Helen Keller")
    fake.add_user(HELPERS[1], name="harry", real_name="Harry Houdini")
    fake.add_channel(HELP_CHANNEL, name="help")
    fake.add_channel(TICKET_CHANNEL, name="help-tickets")
    fake.add_channel(HEARTBEAT_CHANNEL, name="nephthys-heartbeat")
    fake.add_channel(BTS_CHANNEL, name="help-team", members=[*HELPERS, fake.bot_user_id])


def demo_settings(settings: Settings, fake: FakeSlack, database_url: str) -> Settings:
    """``settings`` with every Slack value pointing at the fake (never at the real Slack)."""
    return dataclasses.replace(
        settings,
        slack_bot_token=DEMO_BOT_TOKEN,
        slack_user_token=DEMO_USER_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token=None,  # HTTP mode: the fake cannot do Socket Mode
        slack_api_base_url=fake.base_url,
        slack_workspace_url=f"https://{fake.team_domain}.slack.com",
        slack_help_channel=HELP_CHANNEL,
        slack_ticket_channel=TICKET_CHANNEL,
        slack_bts_channel=BTS_CHANNEL,
        slack_heartbeat_channel=HEARTBEAT_CHANNEL,
        database_url=database_url,
    )


def run_demo(
    settings: Settings, *, port: int | None = None, slack_port: int | None = None, walkthrough: bool = True
) -> int:
    """Run the demo until interrupted; the exit status for the CLI."""
    from nephthys.cli import database_url_for  # the CLI imports this module lazily; no cycle

    # Its own throw-away database: the demo's fake users and tickets never reach ./.nephthys/pgdata
    # or DATABASE_URL, where its repair job would act on real tickets. SIGTERM, SIGINT and SIGHUP
    # stop it like `nephthys serve`, database included (stopping.Server below, the CLI's handlers).
    with database_url_for(settings, throwaway=True) as database_url:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                _demo(settings, database_url, port=port, slack_port=slack_port, walkthrough=walkthrough)
            )
    return 0


async def _demo(
    settings: Settings, database_url: str, *, port: int | None, slack_port: int | None, walkthrough: bool
) -> None:
    from nephthys.database import migrate
    from nephthys.utils.keep_alive import KEEP_ALIVE_SECONDS
    from nephthys.utils.starlette import create_app

    await migrate.upgrade(database_url)
    host = settings.host or "127.0.0.1"
    port = port or settings.port
    async with FakeSlack(host=host, port=slack_port if slack_port is not None else port + 1) as fake:
        populate(fake)
        configured = demo_settings(settings, fake, database_url)
        service_url = f"http://{host}:{port}"
        server = stopping.Server(
            uvicorn.Config(
                create_app(configured, database_url=database_url),
                host=host,
                port=port,
                log_level=settings.log_level.lower(),
                access_log=False,
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
                return
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=service_url, timeout=30) as client:
            deliver = SlackDelivery(client, SIGNING_SECRET, fake=fake)
            fake.app.router.routes.append(Route("/_demo/say", _say_endpoint(deliver), methods=["POST"]))
            print(_banner(fake, service_url), flush=True)
            await _settle(fake)  # start-up work (helper sync, heartbeat) before the story
            if fake.calls:
                print("\n0. The service starts.", flush=True)
                for call in fake.calls:
                    print("   " + _describe(call), flush=True)
            if walkthrough:
                await walk_through(fake, deliver, report=lambda line: print(line, flush=True))
            print(_how_to_explore(fake, service_url), flush=True)
            await serving


def _say_endpoint(deliver: SlackDelivery) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def say(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("text"):
            return JSONResponse(
                {"ok": False, "error": 'send {"user": "U…", "text": "…", "thread_ts": null}'}, 400
            )
        user, text, thread_ts = body.get("user") or ASKER, body["text"], body.get("thread_ts")
        if thread_ts:
            parent = deliver.fake.message(HELP_CHANNEL, thread_ts) if deliver.fake else None
            # The parent's author, or the replier when it has none (a bot's message).
            parent_user = (parent.get("user") if parent else None) or user
            event = thread_reply(HELP_CHANNEL, user, text, thread_ts=thread_ts, parent_user_id=parent_user)
        else:
            event = question(HELP_CHANNEL, user, text)
        response = await deliver.event(event)
        return JSONResponse(
            {"ok": response.status_code < 300, "ts": event["ts"], "service_status": response.status_code}
        )

    return say


async def walk_through(fake: FakeSlack, deliver: SlackDelivery, *, report: Callable[[str], None]) -> bool:
    """Ask, answer and resolve one question through signed events; report what the bot did."""
    report("\n1. Alice asks in #help.")
    asked = question(HELP_CHANNEL, ASKER, "My project won't deploy: the build says 'module not found'. Help?")

    def opened() -> bool:  # the bot's thread reply, with its button, is the last step of opening
        return _resolve_click(fake, asked["ts"]) is not None

    if not await _deliver_and_watch(fake, report, lambda: deliver.event(asked), until=opened):
        return False

    report("\n2. Helen (a helper) answers in the thread.")
    answer = thread_reply(
        HELP_CHANNEL,
        HELPERS[0],
        "Add it to requirements.txt and redeploy.",
        thread_ts=asked["ts"],
        parent_user_id=ASKER,
    )
    await _deliver_and_watch(fake, report, lambda: deliver.event(answer))

    report("\n3. Alice presses Resolve on the bot's reply.")
    clicked = _resolve_click(fake, asked["ts"])
    if clicked is None:
        report("   (no Resolve button found in the bot's thread reply; skipping)")
        return False

    def resolved() -> bool:
        return "white_check_mark" in fake.reactions(HELP_CHANNEL, asked["ts"])

    return await _deliver_and_watch(fake, report, lambda: deliver.action(clicked), until=resolved)


async def _deliver_and_watch(
    fake: FakeSlack,
    report: Callable[[str], None],
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    until: Callable[[], bool] | None = None,
) -> bool:
    """Send one request, wait for the bot's Slack calls (and ``until``), report them."""
    seen = len(fake.calls)
    response = await send()
    report(f"   the service answered Slack with HTTP {response.status_code}")
    if response.status_code >= 300:
        report(f"   {response.text[:200]}")
        return False
    reached = await _wait_until(until) if until is not None else True
    await _settle(fake)
    for call in fake.calls[seen:]:
        report("   " + _describe(call))
    if not reached:
        report(f"   (the bot did not finish within {WAIT_SECONDS:.0f} s)")
    return reached


async def _wait_until(condition: Callable[[], bool]) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def _settle(fake: FakeSlack, *, quiet_for: float = 0.5) -> None:
    """Wait until the bot has made no Slack call for ``quiet_for`` seconds (at most WAIT_SECONDS)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    count, quiet_since = len(fake.calls), loop.time()
    while loop.time() < deadline:
        await asyncio.sleep(0.05)
        if len(fake.calls) != count:
            count, quiet_since = len(fake.calls), loop.time()
        elif loop.time() - quiet_since >= quiet_for:
            return


def _resolve_click(fake: FakeSlack, question_ts: str) -> dict | None:
    """A block_actions payload for the Resolve button of the bot's reply in the question's thread."""
    for reply in fake.messages(HELP_CHANNEL, thread_ts=question_ts):
        if reply.get("bot_id") != fake.bot_id:
            continue
        buttons = [
            (block, element)
            for block in reply.get("blocks") or []
            for element in block.get("elements") or []
            if element.get("type") == "button"
        ]
        buttons.sort(key=lambda pair: "resolve" not in pair[1].get("action_id", ""))
        if buttons:
            block, element = buttons[0]
            pressed = button(
                element["action_id"],
                value=element.get("value"),
                block_id=block.get("block_id"),
                text=element.get("text", {}).get("text", "Resolve"),
            )
            return block_actions(ASKER, pressed, channel=HELP_CHANNEL, message=reply)
    return None


def _describe(call: RecordedCall) -> str:
    args = call.args
    where = args.get("channel") or args.get("user_id") or args.get("user") or ""
    detail: Any = args.get("text") or args.get("name") or ""
    if isinstance(detail, str) and len(detail) > 70:
        detail = detail[:67] + "..."
    outcome = "ok" if call.ok else f"error {call.error}"
    shown = json.dumps(detail, ensure_ascii=False) if detail else ""
    return f"-> {call.method} {where} {shown} [{outcome}]".replace("  ", " ")


def _banner(fake: FakeSlack, service_url: str) -> str:
    return (
        "\nNephthys demo: the service runs against a fake Slack on this machine.\n"
        f"  service:        {service_url}\n"
        f"  fake Slack API: {fake.base_url}\n"
        f"  channels:       help {HELP_CHANNEL}, tickets {TICKET_CHANNEL}, team {BTS_CHANNEL}\n"
        f"  people:         asker {ASKER} (alice), helpers {', '.join(HELPERS)} (helen, harry)"
    )


def _how_to_explore(fake: FakeSlack, service_url: str) -> str:
    root = fake.base_url.removesuffix("api/")
    return (
        "\nLook around (Ctrl-C stops everything):\n"
        f"  curl {root}_fake/state                      # what the bot did in Slack\n"
        f'  curl -d \'{{"user": "{ASKER}", "text": "another question"}}\' {root}_demo/say\n'
        f"  curl {service_url}/health\n"
        f"  the service's JSON API under {service_url}/api/ (docs/api.md)\n"
    )


def add_demo_command(commands: argparse._SubParsersAction) -> None:
    """Register ``nephthys demo`` on the CLI's subcommands (``build_parser`` calls this)."""
    demo = commands.add_parser(
        "demo", help="run the service against a fake Slack and a throw-away database, with a walk-through"
    )
    demo.add_argument("--port", type=int, help="the service's port (PORT; default 3000)")
    demo.add_argument("--slack-port", type=int, help="the fake Slack's port (default: the service's + 1)")
    demo.add_argument(
        "--no-walkthrough", action="store_true", help="start both and wait, without the scripted story"
    )
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    return run_demo(settings, port=args.port, slack_port=args.slack_port, walkthrough=not args.no_walkthrough)
