"""A fake Slack Web API: a Starlette app that answers like Slack does and remembers what it was asked.

Tests and ``nephthys demo`` point ``slack_sdk``'s ``AsyncWebClient(base_url=...)`` at it::

    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.base_url)
        slack.add_user("U123", name="alice")
        slack.fail("chat.postMessage", error="ratelimited", retry_after=1)
        ...
        assert slack.calls_to("chat.postMessage")[0].args["channel"] == "C123"

What it copies from Slack, because the code under test depends on it:

- every answer is HTTP 200 JSON, ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``; only
  ``ratelimited`` is HTTP 429 with a ``Retry-After`` header (seconds);
- arguments arrive as a query string (GET), a form body or a JSON body, the token as
  ``Authorization: Bearer`` or a ``token`` argument; ``not_authed`` without one, ``invalid_auth`` for
  an unknown one, ``token_revoked`` for a revoked one;
- message ``ts`` values are unique, increasing strings like ``1700000000.000100``;
- message metadata (``metadata`` on chat.postMessage, ``invalid_metadata_format`` when it is not
  ``{"event_type": str, "event_payload": object}``) is stored and shown by conversations.history
  and conversations.replies only with ``include_all_metadata``; history honours ``oldest``/``latest``;
- ``fail(..., applied=True)``: the call takes effect but answers the error (a 500 or a timeout
  after Slack did the work), the fault that makes a blind retry post twice;
- the error codes of the real methods (``message_not_found``, ``thread_not_found`` for
  conversations.replies, ``cant_delete_message``,
  ``already_reacted``, ``no_reaction``, ``user_not_found``, ``channel_not_found``, ``invalid_cursor``, …);
- a click's ``trigger_id`` opens one view, within 3 seconds of the click (``views.open`` answers
  ``expired_trigger_id`` after that and ``exchanged_trigger_id`` for a second use) when the click
  was delivered through ``SlackDelivery(fake=...)``, which tells the fake when it was issued;
- ``chat.postMessage`` with ``username``/``icon_url`` needs the ``chat:write.customize`` scope
  (``missing_scope`` without it: see :meth:`FakeSlack.remove_scope`);
- a deleted thread parent with replies stays as a ``tombstone`` (:meth:`FakeSlack.tombstone_message`).

What it keeps simple on purpose: one workspace; channels exist when first used (unless
``strict_channels``); deleting a thread parent leaves its replies; no events are sent back to the app.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Args = dict[str, Any]
Answer = dict[str, Any]

# Arguments that slack_sdk (or a hand-written form post) sends as JSON text inside a form body.
_JSON_ARGUMENTS = {"blocks", "attachments", "view", "metadata"}
_REACTION_NAME = re.compile(r"^[a-z0-9_+'\-]+(::skin-tone-[2-6])?$")
_MAX_VIEW_BLOCKS = 100
_MAX_TEXT = 40_000
# How long a click's trigger_id can open a view.
TRIGGER_TTL_SECONDS = 3.0

# The workspace a FakeSlack is by default; tests/support/slack.py builds payloads for the same one.
TEAM_ID = "T0FAKE0001"
TEAM_DOMAIN = "fake-workspace"
APP_ID = "A0FAKE0001"
BOT_USER_ID = "U0BOT00001"
BOT_ID = "B0BOT00001"
BOT_NAME = "nephthys"
ADMIN_USER_ID = "U0ADMIN001"

_ts_lock = threading.Lock()
_last_ts_micros = 0


def next_ts() -> str:
    """A Slack message ts: ``"<unix seconds>.<6 digits>"``, unique and increasing in this process.

    It follows the wall clock, so it reads like a real ts, and never repeats even within one
    microsecond. Tests building events share it with the fake so their ts never collide.
    """
    global _last_ts_micros
    with _ts_lock:
        micros = max(time.time_ns() // 1000, _last_ts_micros + 1)
        _last_ts_micros = micros
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_key(ts: str) -> tuple[int, int]:
    """Order ts strings as Slack does (seconds, then sequence) without going through floats."""
    seconds, _, sequence = ts.partition(".")
    return int(seconds), int(sequence or 0)


@dataclass(frozen=True)
class RecordedCall:
    """One Web API call as the fake saw it and answered it."""

    method: str
    args: Args
    ok: bool
    response: Answer
    at: datetime
    status: int = 200
    token: str | None = None

    @property
    def error(self) -> str | None:
        return None if self.ok else self.response.get("error")


@dataclass
class InjectedFailure:
    """A rule from :meth:`FakeSlack.fail`: which calls fail, how, and how often it has fired."""

    method: str
    error: str
    status: int
    retry_after: int | None
    times: int | None
    every: int | None
    when: Callable[[Args], bool] | None
    applied: bool
    extra: Answer = field(default_factory=dict)
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, args: Args) -> bool:
        if self.method not in ("*", method):
            return False
        if self.when is not None and not self.when(args):
            return False
        return True

    def fires_now(self) -> bool:
        """Count one matching call; say whether this one fails."""
        if self.times is not None and self.fired >= self.times:
            return False
        self.seen += 1
        if self.every is not None and self.seen % self.every != 0:
            return False
        self.fired += 1
        return True

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass(frozen=True)
class Caller:
    """Who a token belongs to."""

    token: str
    user_id: str
    bot_id: str | None

    @property
    def is_bot(self) -> bool:
        return self.bot_id is not None


class SlackError(Exception):
    """Raised by a method handler; becomes ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in {"1", "true", "yes"}
    return bool(value)


def _required(args: Args, *names: str) -> None:
    missing = [name for name in names if args.get(name) in (None, "")]
    if missing:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": [f"[ERROR] missing required field: {name}" for name in missing]},
        )


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]


class FakeSlack:
    """A fake Slack workspace and Web API server. Use ``async with FakeSlack() as slack``.

    The app's own bot is ``bot_user_id``/``bot_id``; any ``xoxb-`` token acts as it and any
    ``xoxp-`` token as ``user_token_owner`` unless :meth:`accept_token` narrowed the accepted tokens.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        team_id: str = TEAM_ID,
        team_domain: str = TEAM_DOMAIN,
        team_name: str = "Fake Workspace",
        app_id: str = APP_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        bot_name: str = BOT_NAME,
        user_token_owner: str = ADMIN_USER_ID,
        strict_channels: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.user_token_owner = user_token_owner
        self.strict_channels = strict_channels

        self._lock = threading.RLock()
        self._tokens: dict[str, str] | None = None  # None: accept by prefix
        self._revoked: set[str] = set()
        self._users: dict[str, dict] = {}
        self._channels: dict[str, dict] = {}
        self._members: dict[str, list[str]] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._messages: dict[str, dict[str, dict]] = {}
        self._reactions: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._dm_channels: dict[tuple[str, ...], str] = {}
        self._views: dict[str, dict] = {}
        self._failures: list[InjectedFailure] = []
        self._delays: dict[str, float] = {}
        # trigger_id -> when the click that carries it was delivered (time.monotonic()).
        self._triggers: dict[str, float] = {}
        self._exchanged_triggers: set[str] = set()
        self._removed_scopes: set[str] = set()

        self.calls: list[RecordedCall] = []
        self.ephemerals: list[dict] = []
        self.views_published: dict[str, dict] = {}
        self.views_opened: list[dict] = []
        self.deleted_messages: list[dict] = []
        self._ever_deleted: set[tuple[str, str]] = set()  # kept by reset_calls: a deleted ts stays gone

        self._handlers: dict[str, Callable[[Caller, Args], Answer]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "bots.info": self._bots_info,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.open": self._conversations_open,
            "conversations.replies": self._conversations_replies,
            "reactions.add": self._reactions_add,
            "reactions.get": self._reactions_get,
            "reactions.remove": self._reactions_remove,
            "usergroups.users.list": self._usergroups_users_list,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }
        # Files of the external upload flow, by file id: uploads waiting to be completed, then shared.
        self.files: dict[str, dict] = {}
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/_fake/state", self._state_endpoint, methods=["GET"]),
                Route("/_fake/control", self._control_endpoint, methods=["POST"]),
                Route("/upload/v1/{file_id}", self._upload_endpoint, methods=["POST"]),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task | None = None

        self.add_bot(user_id=bot_user_id, bot_id=bot_id, name=bot_name, app_id=app_id)
        self.add_user(user_token_owner, name="workspace-admin", is_admin=True)

    # ----------------------------------------------------------------- serving

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Serve on ``host:port`` (port 0: a free one) inside the running event loop."""
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._serve_task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serve_task.done():
                self._serve_task.result()  # raises the start-up error
                raise RuntimeError("the fake Slack server stopped before it started")
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None or self._serve_task is None:
            return
        self._server.should_exit = True
        await self._serve_task
        self._server = None
        self._serve_task = None

    @property
    def base_url(self) -> str:
        """The Web API base URL for ``AsyncWebClient(base_url=...)`` / ``SLACK_API_BASE_URL``."""
        return f"http://{self.host}:{self.port}/api/"

    # ------------------------------------------------------- workspace set-up

    def accept_token(self, token: str, *, user_id: str | None = None) -> None:
        """Accept only explicitly listed tokens from now on; ``user_id`` defaults by prefix."""
        with self._lock:
            if self._tokens is None:
                self._tokens = {}
            if user_id is None:
                user_id = self.bot_user_id if token.startswith("xoxb-") else self.user_token_owner
            self._tokens[token] = user_id
            self._revoked.discard(token)

    def revoke_token(self, token: str) -> None:
        """Calls with ``token`` get ``token_revoked`` from now on."""
        with self._lock:
            self._revoked.add(token)

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        is_admin: bool = False,
        deleted: bool = False,
        tz: str = "Europe/London",
        bot_id: str | None = None,
        app_id: str | None = None,
    ) -> dict:
        """Add (or replace) a workspace member; returns the ``users.info`` user object."""
        name = name or user_id.lower()
        real_name = real_name if real_name is not None else name.replace(".", " ").title()
        display_name = display_name if display_name is not None else name
        profile: dict[str, Any] = {
            "title": "",
            "phone": "",
            "skype": "",
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name,
            "display_name_normalized": display_name,
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": hashlib.md5(user_id.encode()).hexdigest()[:12],
            "first_name": real_name.split(" ")[0] if real_name else "",
            "last_name": " ".join(real_name.split(" ")[1:]) if real_name else "",
            "team": self.team_id,
        }
        for size in (24, 32, 48, 72, 192, 512):
            profile[f"image_{size}"] = f"https://avatars.fake-slack.invalid/{user_id}_{size}.png"
        if email:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = bot_id
            profile["api_app_id"] = app_id or ""
            profile["always_active"] = True
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            "is_email_confirmed": not is_bot,
            "who_can_share_contact_card": "EVERYONE",
        }
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    def add_bot(self, *, user_id: str, bot_id: str, name: str = "bot", app_id: str | None = None) -> dict:
        """Add a bot user (the app's own bot is added by the constructor)."""
        return self.add_user(user_id, name=name, real_name=name, is_bot=True, bot_id=bot_id, app_id=app_id)

    def user(self, user_id: str) -> dict | None:
        with self._lock:
            found = self._users.get(user_id)
            return copy.deepcopy(found) if found else None

    def add_channel(
        self, channel_id: str, *, name: str | None = None, members: Iterable[str] | None = None
    ) -> None:
        """Make a channel known (needed with ``strict_channels``); optionally set its members."""
        with self._lock:
            self._channels[channel_id] = {"id": channel_id, "name": name or channel_id.lower()}
            self._messages.setdefault(channel_id, {})
            if members is not None:
                self._members[channel_id] = list(members)

    def set_members(self, channel_id: str, user_ids: Iterable[str]) -> None:
        """The members ``conversations.members`` lists for ``channel_id`` (in this order)."""
        with self._lock:
            if channel_id not in self._channels:
                self.add_channel(channel_id)
            self._members[channel_id] = list(user_ids)

    def members(self, channel_id: str) -> list[str]:
        with self._lock:
            return list(self._members.get(channel_id, []))

    def set_usergroup(self, usergroup_id: str, user_ids: Iterable[str]) -> None:
        with self._lock:
            self._usergroups[usergroup_id] = list(user_ids)

    def add_message(
        self,
        channel: str,
        *,
        user: str | None = None,
        text: str = "",
        ts: str | None = None,
        thread_ts: str | None = None,
        subtype: str | None = None,
        bot_id: str | None = None,
        files: list[dict] | None = None,
        blocks: list[dict] | None = None,
    ) -> dict:
        """Put a message into a channel as if someone had posted it in Slack; returns it.

        ``tests/support/slack.py`` calls this for the message events it delivers, so a
        ``reactions.add`` on a question finds the question, as it would in Slack.
        """
        message: dict[str, Any] = {"type": "message", "text": text, "ts": ts or next_ts()}
        if user is not None:
            message["user"] = user
        if subtype is not None:
            message["subtype"] = subtype
        if bot_id is not None:
            message["bot_id"] = bot_id
        if files is not None:
            message["files"] = files
        if blocks is not None:
            message["blocks"] = blocks
        message["team"] = self.team_id
        with self._lock:
            self._store_message(channel, message, thread_ts=thread_ts)
            return copy.deepcopy(message)

    def edit_message(self, channel: str, ts: str, *, text: str, user: str | None = None) -> dict:
        """Change a message's text as its author would in Slack; returns the new message."""
        with self._lock:
            message = self._find_message(channel, ts)
            message["text"] = text
            message["edited"] = {"user": user or message.get("user", ""), "ts": next_ts()}
            return copy.deepcopy(message)

    def remove_message(self, channel: str, ts: str) -> dict | None:
        """Delete a message as its author would in Slack; returns what was deleted."""
        with self._lock:
            message = self._messages.get(channel, {}).get(ts)
            if message is None:
                return None
            self._delete_message(channel, ts)
            return copy.deepcopy(message)

    def tombstone_message(self, channel: str, ts: str) -> dict | None:
        """Delete a thread parent that has replies, as Slack does: it stays as a ``tombstone``.

        Returns the tombstone (the ``message`` of the ``message_changed`` event Slack sends).
        """
        with self._lock:
            message = self._messages.get(channel, {}).get(ts)
            if message is None:
                return None
            kept = {k: message[k] for k in ("thread_ts", "reply_count", "reply_users", "reply_users_count",
                                            "latest_reply") if k in message}  # fmt: skip
            message.clear()
            message.update(
                type="message",
                subtype="tombstone",
                text="This message was deleted.",
                user="USLACKBOT",
                hidden=True,
                ts=ts,
                **kept,
            )
            self._reactions.pop((channel, ts), None)
            return copy.deepcopy(message)

    def issue_trigger(self, trigger_id: str, *, seconds_ago: float = 0.0) -> None:
        """A click carrying ``trigger_id`` was delivered (``seconds_ago``): it may open one view
        within 3 seconds of that."""
        with self._lock:
            self._triggers[trigger_id] = time.monotonic() - seconds_ago

    def remove_scope(self, scope: str) -> None:
        """The app no longer has ``scope`` (e.g. ``chat:write.customize``): calls needing it fail."""
        with self._lock:
            self._removed_scopes.add(scope)

    def grant_scope(self, scope: str) -> None:
        with self._lock:
            self._removed_scopes.discard(scope)

    # ------------------------------------------------------ failure injection

    def fail(
        self,
        method: str,
        *,
        error: str = "internal_error",
        times: int | None = 1,
        status: int | None = None,
        retry_after: int | None = None,
        every: int | None = None,
        when: Callable[[Args], bool] | None = None,
        applied: bool = False,
        **extra: Any,
    ) -> InjectedFailure:
        """Make calls to ``method`` (``"*"``: any method) answer ``error``.

        ``times``: how many calls fail (None: no limit). ``every=n``: only every n-th matching call
        fails. ``when(args)``: only calls whose arguments match. ``status``: the HTTP status (default
        200, or 429 with ``Retry-After: retry_after`` (default 1) for ``ratelimited``).
        ``applied=True``: the call takes effect and only the answer is lost, like a timeout after
        Slack did the work. Extra keyword arguments go into the error body.
        """
        if error == "ratelimited":
            status = status or 429
            retry_after = 1 if retry_after is None else retry_after
        rule = InjectedFailure(
            method=method,
            error=error,
            status=status or 200,
            retry_after=retry_after,
            times=times,
            every=every,
            when=when,
            applied=applied,
            extra=extra,
        )
        with self._lock:
            self._failures.append(rule)
        return rule

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def delay(self, method: str, seconds: float | None) -> None:
        """Answer ``method`` (``"*"``: every method) after ``seconds``; None removes the delay."""
        with self._lock:
            if seconds is None:
                self._delays.pop(method, None)
            else:
                self._delays[method] = seconds

    # -------------------------------------------------------------- inspection

    def calls_to(self, method: str, *, ok: bool | None = None, **args: Any) -> list[RecordedCall]:
        """Recorded calls to ``method``, oldest first.

        ``ok`` filters by outcome; other keywords keep calls whose arguments equal them,
        e.g. ``slack.calls_to("chat.postMessage", channel="C1", thread_ts=ts)``.
        """
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == method
                and (ok is None or c.ok == ok)
                and all(c.args.get(k) == v for k, v in args.items())
            ]

    def reset_calls(self) -> None:
        """Forget recorded calls (and ephemerals, opened views, deleted messages); keep the workspace."""
        with self._lock:
            self.calls.clear()
            self.ephemerals.clear()
            self.views_opened.clear()
            self.deleted_messages.clear()

    def messages(self, channel: str, *, thread_ts: str | None = None) -> list[dict]:
        """The channel's messages (replies included) oldest first, each with ``channel`` set.

        With ``thread_ts``: that thread's replies only (not the parent).
        """
        with self._lock:
            found = sorted(self._messages.get(channel, {}).values(), key=lambda m: ts_key(m["ts"]))
            if thread_ts is not None:
                found = [m for m in found if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]
            return [{**copy.deepcopy(m), "channel": channel} for m in found]

    def message(self, channel: str, ts: str) -> dict | None:
        with self._lock:
            found = self._messages.get(channel, {}).get(ts)
            return {**copy.deepcopy(found), "channel": channel} if found else None

    def bot_messages(self, channel: str | None = None) -> list[dict]:
        """Messages posted by the app's bot, in one channel or all, oldest first."""
        with self._lock:
            channels = [channel] if channel is not None else list(self._messages)
            found = [m for c in channels for m in self.messages(c) if m.get("bot_id") == self.bot_id]
            return sorted(found, key=lambda m: ts_key(m["ts"]))

    def was_deleted(self, channel: str, ts: str) -> bool:
        """Whether the message ``ts`` in ``channel`` existed here and was deleted."""
        with self._lock:
            return (channel, ts) in self._ever_deleted

    def reactions(self, channel: str, ts: str) -> set[str]:
        """Names of the reactions on a message (from anyone)."""
        with self._lock:
            return {name for name, users in self._reactions.get((channel, ts), {}).items() if users}

    def reactors(self, channel: str, ts: str, name: str) -> list[str]:
        with self._lock:
            return list(self._reactions.get((channel, ts), {}).get(name, []))

    def dm_channel(self, *user_ids: str) -> str:
        """The DM channel id ``conversations.open`` gives for these users."""
        key = tuple(sorted(user_ids))
        with self._lock:
            if key not in self._dm_channels:
                digest = hashlib.sha1(",".join(key).encode()).hexdigest()[:10].upper()
                self._dm_channels[key] = ("D" if len(key) == 1 else "G") + digest
            return self._dm_channels[key]

    # ------------------------------------------------------------------- HTTP

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        args = await self._read_args(request)
        token = self._bearer(request) or args.pop("token", None)
        delay = self._delays.get(method, self._delays.get("*"))
        if delay:
            await asyncio.sleep(delay)
        status, headers, body = self._answer(method, token, args)
        with self._lock:
            self.calls.append(
                RecordedCall(
                    method=method,
                    args=args,
                    ok=bool(body.get("ok")),
                    response=body,
                    at=datetime.now(UTC),
                    status=status,
                    token=token,
                )
            )
        return JSONResponse(body, status_code=status, headers=headers)

    def snapshot(self) -> dict[str, Any]:
        """Everything the fake holds, as JSON-ready data (served at ``GET /_fake/state``)."""
        with self._lock:
            return {
                "calls": [
                    {
                        "method": c.method,
                        "args": c.args,
                        "ok": c.ok,
                        "status": c.status,
                        "error": c.error,
                        "at": c.at.isoformat(),
                    }
                    for c in self.calls
                ],
                "channels": {channel: self.messages(channel) for channel in sorted(self._messages)},
                "reactions": {
                    f"{channel}/{ts}": sorted(self.reactions(channel, ts))
                    for channel, ts in sorted(self._reactions)
                },
                "ephemerals": copy.deepcopy(self.ephemerals),
                "views_published": copy.deepcopy(self.views_published),
            }

    async def _state_endpoint(self, request: Request) -> JSONResponse:
        return JSONResponse(self.snapshot())

    async def _control_endpoint(self, request: Request) -> JSONResponse:
        """``{"call": "fail", "kwargs": {...}}`` runs that set-up method, for a fake in another process."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        name = body.get("call") if isinstance(body, dict) else None
        kwargs = body.get("kwargs") or {} if isinstance(body, dict) else {}
        if name not in REMOTE_CONTROLS or not isinstance(kwargs, dict):
            return JSONResponse({"ok": False, "error": f"call one of {sorted(REMOTE_CONTROLS)}"}, 400)
        try:
            result = getattr(self, name)(**kwargs)
        except TypeError as error:
            return JSONResponse({"ok": False, "error": str(error)}, 400)
        return JSONResponse({"ok": True, "result": result if isinstance(result, dict | list) else None})

    @staticmethod
    def _bearer(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip() or None
        return None

    @staticmethod
    async def _read_args(request: Request) -> Args:
        args: Args = dict(request.query_params)
        body = await request.body()
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if body and content_type == "application/json":
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                args.update(parsed)
        elif body and content_type == "multipart/form-data":
            form = await request.form()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
        elif body:
            args.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        for name in _JSON_ARGUMENTS & args.keys():
            if isinstance(args[name], str) and args[name]:
                with contextlib.suppress(ValueError):
                    args[name] = json.loads(args[name])
        return args

    def _answer(self, method: str, token: str | None, args: Args) -> tuple[int, dict[str, str], Answer]:
        handler = self._handlers.get(method)
        if handler is None:
            return 200, {}, {"ok": False, "error": "unknown_method", "req_method": method}
        with self._lock:
            try:
                caller = self._authenticate(token)
            except SlackError as error:
                return 200, {}, {"ok": False, "error": error.error, **error.extra}
            rule = next((r for r in self._failures if r.matches(method, args) and r.fires_now()), None)
            if rule is not None:
                if rule.applied:
                    with contextlib.suppress(SlackError):
                        handler(caller, args)
                return self._failure_answer(rule)
            try:
                return 200, {}, {"ok": True, **handler(caller, args)}
            except SlackError as error:
                return 200, {}, {"ok": False, "error": error.error, **error.extra}

    @staticmethod
    def _failure_answer(rule: InjectedFailure) -> tuple[int, dict[str, str], Answer]:
        headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
        return rule.status, headers, {"ok": False, "error": rule.error, **rule.extra}

    def _authenticate(self, token: str | None) -> Caller:
        if not token:
            raise SlackError("not_authed")
        if token in self._revoked:
            raise SlackError("token_revoked")
        if self._tokens is not None:
            user_id = self._tokens.get(token)
            if user_id is None:
                raise SlackError("invalid_auth")
        elif token.startswith("xoxb-"):
            user_id = self.bot_user_id
        elif token.startswith("xoxp-"):
            user_id = self.user_token_owner
        else:
            raise SlackError("invalid_auth")
        user = self._users.get(user_id, {})
        bot_id = user.get("profile", {}).get("bot_id") if user.get("is_bot") else None
        return Caller(token=token, user_id=user_id, bot_id=bot_id)

    # ------------------------------------------------------- state primitives

    def _channel(self, channel: Any) -> str:
        if not channel or not isinstance(channel, str):
            raise SlackError("channel_not_found")
        if self.strict_channels and channel not in self._channels and not channel.startswith(("D", "G")):
            raise SlackError("channel_not_found")
        return channel

    def _find_message(self, channel: str, ts: Any) -> dict:
        message = self._messages.get(channel, {}).get(ts) if isinstance(ts, str) else None
        if message is None:
            raise SlackError("message_not_found")
        return message

    def _store_message(self, channel: str, message: dict, *, thread_ts: str | None) -> None:
        if thread_ts and thread_ts != message["ts"]:
            message["thread_ts"] = thread_ts
            parent = self._messages.get(channel, {}).get(thread_ts)
            if parent is not None:
                message["parent_user_id"] = parent.get("user", "")
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                reply_users = parent.setdefault("reply_users", [])
                if message.get("user") and message["user"] not in reply_users:
                    reply_users.append(message["user"])
                parent["reply_users_count"] = len(reply_users)
                parent["latest_reply"] = message["ts"]
        self._messages.setdefault(channel, {})[message["ts"]] = message

    def _delete_message(self, channel: str, ts: str) -> dict:
        message = self._messages[channel].pop(ts)
        self._reactions.pop((channel, ts), None)
        parent_ts = message.get("thread_ts")
        parent = self._messages.get(channel, {}).get(parent_ts) if parent_ts and parent_ts != ts else None
        if parent is not None and parent.get("reply_count"):
            parent["reply_count"] -= 1
        self.deleted_messages.append({**message, "channel": channel})
        self._ever_deleted.add((channel, ts))
        return message

    def _require_scope(self, caller: Caller, scope: str) -> None:
        if caller.is_bot and scope in self._removed_scopes:
            provided = "channels:history,chat:write,reactions:write,users:read"
            raise SlackError("missing_scope", needed=scope, provided=provided)

    def _exchange_trigger(self, trigger_id: str) -> None:
        """A trigger opens one view, within 3 seconds of its click (when the fake saw it issued)."""
        issued = self._triggers.get(trigger_id)
        if issued is None:
            return
        if trigger_id in self._exchanged_triggers:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - issued > TRIGGER_TTL_SECONDS:
            raise SlackError("expired_trigger_id")
        self._exchanged_triggers.add(trigger_id)

    def _bot_profile(self) -> dict:
        return {
            "id": self.bot_id,
            "app_id": self.app_id,
            "name": self.bot_name,
            "icons": {"image_48": "https://avatars.fake-slack.invalid/bot_48.png"},
            "deleted": False,
            "updated": int(time.time()),
            "team_id": self.team_id,
        }

    def _check_content(self, args: Args) -> None:
        text, blocks, attachments = args.get("text"), args.get("blocks"), args.get("attachments")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks")
        if attachments is not None and not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        if isinstance(text, str) and len(text) > _MAX_TEXT:
            raise SlackError("msg_too_long")

    @staticmethod
    def _check_metadata(args: Args) -> None:
        """Message metadata as Slack takes it: ``{"event_type": str, "event_payload": object}``."""
        metadata = args.get("metadata")
        if metadata is None or metadata == "":
            return
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not metadata["event_type"]
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise SlackError("invalid_metadata_format")

    # ------------------------------------------------------------ the methods

    def _api_test(self, caller: Caller, args: Args) -> Answer:
        return {"args": {k: v for k, v in args.items() if k != "token"}}

    def _auth_test(self, caller: Caller, args: Args) -> Answer:
        user = self._users.get(caller.user_id, {})
        answer: Answer = {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": user.get("name", caller.user_id),
            "team_id": self.team_id,
            "user_id": caller.user_id,
            "is_enterprise_install": False,
        }
        if caller.bot_id:
            answer["bot_id"] = caller.bot_id
        return answer

    def _bots_info(self, caller: Caller, args: Args) -> Answer:
        bot_id = args.get("bot")
        for user in self._users.values():
            profile = user["profile"]
            if user["is_bot"] and profile.get("bot_id") == bot_id:
                return {
                    "bot": {
                        "id": bot_id,
                        "deleted": False,
                        "name": user["name"],
                        "updated": user["updated"],
                        "app_id": profile.get("api_app_id", ""),
                        "user_id": user["id"],
                        "icons": {"image_48": profile["image_48"]},
                    }
                }
        raise SlackError("bot_not_found")

    def _chat_post_message(self, caller: Caller, args: Args) -> Answer:
        channel = self._channel(args.get("channel"))
        self._check_content(args)
        self._check_metadata(args)
        message: dict[str, Any] = {
            "user": caller.user_id,
            "type": "message",
            "ts": next_ts(),
            "text": args.get("text") or "",
            "team": self.team_id,
        }
        if caller.is_bot:
            message.update(bot_id=caller.bot_id, app_id=self.app_id, bot_profile=self._bot_profile())
        if args.get("username") or args.get("icon_url") or args.get("icon_emoji"):
            self._require_scope(caller, "chat:write.customize")
            if args.get("username"):
                message["username"] = args["username"]
            if args.get("icon_url"):
                message["icons"] = {"image_48": args["icon_url"]}
            elif args.get("icon_emoji"):
                message["icons"] = {"emoji": args["icon_emoji"]}
        for name in ("blocks", "attachments", "metadata"):
            if args.get(name) is not None:
                message[name] = args[name]
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None and not isinstance(thread_ts, str):
            thread_ts = str(thread_ts)
        if thread_ts and _truthy(args.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
        self._store_message(channel, message, thread_ts=thread_ts)
        return {"channel": channel, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _chat_update(self, caller: Caller, args: Args) -> Answer:
        channel = self._channel(args.get("channel"))
        message = self._find_message(channel, args.get("ts"))
        if message.get("user") != caller.user_id:
            raise SlackError("cant_update_message")
        if "text" in args or "blocks" in args or "attachments" in args:
            merged = {k: args.get(k, message.get(k)) for k in ("text", "blocks", "attachments")}
            self._check_content(merged)
        if "text" in args:
            message["text"] = args["text"] or ""
        for name in ("blocks", "attachments", "metadata"):
            if name in args:
                if args[name]:
                    message[name] = args[name]
                else:
                    message.pop(name, None)
        message["edited"] = {"user": caller.user_id, "ts": next_ts()}
        shown = {k: v for k, v in message.items() if k not in ("ts", "thread_ts", "parent_user_id")}
        return {"channel": channel, "ts": message["ts"], "text": message["text"], "message": shown}

    def _chat_delete(self, caller: Caller, args: Args) -> Answer:
        channel = self._channel(args.get("channel"))
        message = self._find_message(channel, args.get("ts"))
        # A bot token deletes only what the bot posted; a user token here stands for an admin's.
        if caller.is_bot and message.get("bot_id") != caller.bot_id:
            raise SlackError("cant_delete_message")
        self._delete_message(channel, message["ts"])
        return {"channel": channel, "ts": message["ts"]}

    def _chat_post_ephemeral(self, caller: Caller, args: Args) -> Answer:
        channel = self._channel(args.get("channel"))
        user = args.get("user")
        if not user:
            raise SlackError("user_not_found")
        members = self._members.get(channel)
        if members is not None and user not in members:
            raise SlackError("user_not_in_channel")
        self._check_content(args)
        message_ts = next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": user,
                "text": args.get("text") or "",
                "blocks": args.get("blocks"),
                "thread_ts": args.get("thread_ts"),
                "message_ts": message_ts,
            }
        )
        return {"message_ts": message_ts}

    def _chat_get_permalink(self, caller: Caller, args: Args) -> Answer:
        channel = self._channel(args.get("channel"))
        message = self._find_message(channel, args.get("message_ts"))
        permalink = (
            f"https://{self.team_domain}.slack.com/archives/{channel}/p{message['ts'].replace('.', '')}"
        )
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            permalink += f"?thread_ts={thread_ts}&cid={channel}"
        return {"channel": channel, "permalink": permalink}

    def _paged(self, items: list, args: Args, *, default_limit: int = 100) -> tuple[list, str]:
        """One page of ``items`` and the cursor of the next (``""`` at the end), like Slack's."""
        try:
            limit = int(args.get("limit") or default_limit)
        except (TypeError, ValueError):
            raise SlackError("invalid_limit") from None
        limit = max(1, min(limit, 1000))
        start = 0
        cursor = args.get("cursor")
        if cursor:
            try:
                start = int(base64.b64decode(cursor).decode().removeprefix("next:"))
            except ValueError:
                raise SlackError("invalid_cursor") from None
            if not 0 <= start <= len(items):
                raise SlackError("invalid_cursor")
        page = items[start : start + limit]
        end = start + len(page)
        next_cursor = base64.b64encode(f"next:{end}".encode()).decode() if end < len(items) else ""
        return page, next_cursor

    def _conversations_members(self, caller: Caller, args: Args) -> Answer:
        channel = self._channel(args.get("channel"))
        if channel not in self._members and self.strict_channels:
            raise SlackError("channel_not_found")
        page, next_cursor = self._paged(self._members.get(channel, []), args)
        return {"members": list(page), "response_metadata": {"next_cursor": next_cursor}}

    def _conversations_info(self, caller: Caller, args: Args) -> Answer:
        channel = self._channel(args.get("channel"))
        known = self._channels.get(channel, {"name": channel.lower()})
        is_im = channel.startswith("D")
        return {
            "channel": {
                "id": channel,
                "name": known["name"],
                "is_channel": not is_im,
                "is_group": False,
                "is_im": is_im,
                "is_private": False,
                "is_archived": False,
                "is_member": caller.user_id in self._members.get(channel, [caller.user_id]),
                "num_members": len(self._members.get(channel, [])),
            }
        }

    def _conversations_history(self, caller: Caller, args: Args) -> Answer:
        channel = self._channel(args.get("channel"))
        top_level = [
            m
            for m in self.messages(channel)
            if (m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
            and self._within(m["ts"], args)
        ]
        return self._messages_page(list(reversed(top_level)), args)

    @staticmethod
    def _within(ts: str, args: Args) -> bool:
        """Slack's ``oldest``/``latest`` bounds of conversations.history, exclusive unless ``inclusive``."""
        inclusive = _truthy(args.get("inclusive"))
        try:
            oldest, latest = (
                ts_key(str(args[name])) if args.get(name) else None for name in ("oldest", "latest")
            )
        except ValueError:
            raise SlackError("invalid_ts_oldest" if args.get("oldest") else "invalid_ts_latest") from None
        key = ts_key(ts)
        if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
            return False
        return latest is None or key < latest or (key == latest and inclusive)

    def _conversations_replies(self, caller: Caller, args: Args) -> Answer:
        channel = self._channel(args.get("channel"))
        try:
            parent = self._find_message(channel, args.get("ts"))
        except SlackError:
            raise SlackError("thread_not_found") from None  # Slack's answer for a missing thread
        thread_ts = parent.get("thread_ts", parent["ts"])
        thread = [self.message(channel, thread_ts)] if thread_ts in self._messages[channel] else []
        thread += self.messages(channel, thread_ts=thread_ts)
        return self._messages_page([m for m in thread if m], args)

    def _messages_page(self, messages: list[dict], args: Args) -> Answer:
        """A page of ``messages`` as conversations.history and .replies answer (no ``channel`` field).

        Message metadata is only shown with ``include_all_metadata``, as Slack does.
        """
        hidden = {"channel"} if _truthy(args.get("include_all_metadata")) else {"channel", "metadata"}
        cleaned = [{k: v for k, v in m.items() if k not in hidden} for m in messages]
        page, next_cursor = self._paged(cleaned, args)
        return {
            "messages": page,
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_open(self, caller: Caller, args: Args) -> Answer:
        if args.get("channel"):
            return {"channel": {"id": args["channel"]}, "no_op": True, "already_open": True}
        users = _as_list(args.get("users"))
        if not users:
            raise SlackError("users_list_not_supplied")
        for user_id in users:
            if user_id not in self._users:
                raise SlackError("user_not_found")
        key = tuple(sorted(users))
        already_open = key in self._dm_channels
        return {
            "no_op": already_open,
            "already_open": already_open,
            "channel": {"id": self.dm_channel(*users)},
        }

    def _reaction_target(self, args: Args) -> tuple[str, dict, str]:
        channel = self._channel(args.get("channel"))
        message = self._find_message(channel, args.get("timestamp"))
        name = args.get("name")
        if not isinstance(name, str) or not _REACTION_NAME.match(name):
            raise SlackError("invalid_name")
        return channel, message, name

    def _reactions_add(self, caller: Caller, args: Args) -> Answer:
        channel, message, name = self._reaction_target(args)
        users = self._reactions.setdefault((channel, message["ts"]), {}).setdefault(name, [])
        if caller.user_id in users:
            raise SlackError("already_reacted")
        users.append(caller.user_id)
        return {}

    def _reactions_remove(self, caller: Caller, args: Args) -> Answer:
        channel, message, name = self._reaction_target(args)
        users = self._reactions.get((channel, message["ts"]), {}).get(name, [])
        if caller.user_id not in users:
            raise SlackError("no_reaction")
        users.remove(caller.user_id)
        return {}

    def _reactions_get(self, caller: Caller, args: Args) -> Answer:
        channel = self._channel(args.get("channel"))
        message = self._find_message(channel, args.get("timestamp"))
        reactions = [
            {"name": name, "users": list(users), "count": len(users)}
            for name, users in self._reactions.get((channel, message["ts"]), {}).items()
            if users
        ]
        shown = {**copy.deepcopy(message), "reactions": reactions} if reactions else copy.deepcopy(message)
        return {"type": "message", "channel": channel, "message": shown}

    def _usergroups_users_list(self, caller: Caller, args: Args) -> Answer:
        usergroup = args.get("usergroup")
        if usergroup not in self._usergroups:
            raise SlackError("no_such_subteam")
        return {"users": list(self._usergroups[usergroup])}

    def _users_info(self, caller: Caller, args: Args) -> Answer:
        user = self._users.get(args.get("user") or "")
        if user is None:
            raise SlackError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _view(self, args: Args, *, view_type: str | None = None, view_id: str | None = None) -> dict:
        view = args.get("view")
        if not isinstance(view, dict) or not view.get("type"):
            raise SlackError("invalid_arguments")
        if view_type is not None and view["type"] != view_type:
            raise SlackError("invalid_arguments")
        # Slack refuses a view of more than 100 blocks (a modal's or a Home's alike).
        if len(view.get("blocks") or []) > _MAX_VIEW_BLOCKS:
            raise SlackError(
                "invalid_arguments",
                response_metadata={
                    "messages": ["[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]
                },
            )
        view_id = view_id or "V" + hashlib.sha1(next_ts().encode()).hexdigest()[:10].upper()
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": hashlib.sha1(f"{view_id}{next_ts()}".encode()).hexdigest()[:20],
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self._views[view_id] = stored
        return stored

    def _views_publish(self, caller: Caller, args: Args) -> Answer:
        _required(args, "user_id", "view")
        user_id = args["user_id"]
        if user_id not in self._users:
            raise SlackError("user_not_found")
        current = self.views_published.get(user_id)
        if args.get("hash") and current is not None and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        view = self._view(args, view_type="home", view_id=current["id"] if current else None)
        self.views_published[user_id] = view
        return {"view": copy.deepcopy(view)}

    def _views_open(self, caller: Caller, args: Args) -> Answer:
        _required(args, "trigger_id", "view")
        self._exchange_trigger(args["trigger_id"])
        view = self._view(args)
        self.views_opened.append({"trigger_id": args["trigger_id"], "view": view})
        return {"view": copy.deepcopy(view)}

    def _views_push(self, caller: Caller, args: Args) -> Answer:
        return self._views_open(caller, args)

    def _views_update(self, caller: Caller, args: Args) -> Answer:
        _required(args, "view")
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next(
                (v["id"] for v in self._views.values() if v["external_id"] == args["external_id"]), None
            )
        if not view_id or view_id not in self._views:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != self._views[view_id]["hash"]:
            raise SlackError("hash_conflict")
        view = self._view(args, view_id=view_id)
        return {"view": copy.deepcopy(view)}

    # ------------------------------------------------- files (external upload flow)

    def _files_get_upload_url_external(self, caller: Caller, args: Args) -> Answer:
        _required(args, "filename", "length")
        try:
            length = int(args["length"])
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments") from None
        file_id = "F" + hashlib.sha1(next_ts().encode()).hexdigest()[:10].upper()
        self.files[file_id] = {
            "id": file_id,
            "name": args["filename"],
            "length": length,
            "user": caller.user_id,
            "content": None,
            "shared": False,
        }
        upload_url = f"http://{self.host}:{self.port}/upload/v1/{file_id}"
        return {"upload_url": upload_url, "file_id": file_id}

    async def _upload_endpoint(self, request: Request):
        """The upload URL: takes the file's bytes (raw body or a multipart ``file`` field), answers 200."""
        from starlette.responses import PlainTextResponse

        file_id = request.path_params["file_id"]
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get("file")
            body = await upload.read() if upload is not None and not isinstance(upload, str) else b""
        else:
            body = await request.body()
        with self._lock:
            file = self.files.get(file_id)
            if file is None or file["shared"]:
                return PlainTextResponse("Not Found", status_code=404)
            file["content"] = body
        return PlainTextResponse(f"OK - {len(body)}")

    def _files_complete_upload_external(self, caller: Caller, args: Args) -> Answer:
        _required(args, "files")
        listed = args["files"]
        if isinstance(listed, str):
            try:
                listed = json.loads(listed)
            except ValueError:
                raise SlackError("invalid_arguments") from None
        if not isinstance(listed, list) or not listed:
            raise SlackError("invalid_arguments")
        channel = args.get("channel_id") or None
        if channel is not None:
            channel = self._channel(channel)
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None:
            if channel is None:
                raise SlackError("invalid_arguments")
            self._find_message(channel, thread_ts)  # message_not_found when the thread is gone
        shared = []
        for item in listed:
            file = self.files.get(str(item.get("id"))) if isinstance(item, dict) else None
            if file is None or file["content"] is None:
                raise SlackError("file_not_found")
            if file["length"] != len(file["content"]):
                raise SlackError("file_upload_size_mismatch")
            file["title"] = item.get("title") or file["name"]
            file["shared"] = True
            file["channels"] = [channel] if channel else []
            file["thread_ts"] = thread_ts
            shared.append(
                {
                    "id": file["id"],
                    "name": file["name"],
                    "title": file["title"],
                    "size": file["length"],
                    "user": file["user"],
                    "mimetype": "image/png" if file["name"].endswith(".png") else "application/octet-stream",
                }
            )
        if channel is not None:
            message: dict[str, Any] = {
                "user": caller.user_id,
                "type": "message",
                "ts": next_ts(),
                "text": args.get("initial_comment") or "",
                "files": copy.deepcopy(shared),
                "upload": True,
                "team": self.team_id,
            }
            if caller.is_bot:
                message.update(bot_id=caller.bot_id, app_id=self.app_id)
            self._store_message(channel, message, thread_ts=thread_ts)
        return {"files": shared}


# The set-up methods ``POST /_fake/control`` may call (``fail`` without ``when``: JSON has no callables).
REMOTE_CONTROLS = {
    "accept_token",
    "add_bot",
    "add_channel",
    "add_message",
    "add_user",
    "clear_failures",
    "delay",
    "fail",
    "grant_scope",
    "issue_trigger",
    "remove_scope",
    "reset_calls",
    "revoke_token",
    "set_members",
    "set_usergroup",
    "tombstone_message",
}


async def serve_forever(*, host: str, port: int) -> None:
    """Run a fake Slack until interrupted (``python -m nephthys.testing.fake_slack``)."""
    async with FakeSlack(host=host, port=port) as slack:
        root = slack.base_url.removesuffix("api/")
        print(f"fake Slack Web API at {slack.base_url} (state: GET {root}_fake/state)", flush=True)
        assert slack._serve_task is not None
        await slack._serve_task


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m nephthys.testing.fake_slack",
        description="A fake Slack Web API for load tests and demos; set it up with POST /_fake/control.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(host=args.host, port=args.port))
    return 0


__all__ = [
    "ADMIN_USER_ID",
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "Caller",
    "FakeSlack",
    "InjectedFailure",
    "RecordedCall",
    "SlackError",
    "next_ts",
    "ts_key",
]


if __name__ == "__main__":
    raise SystemExit(main())
