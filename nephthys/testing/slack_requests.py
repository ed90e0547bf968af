"""Requests as Slack sends them to an app: signed, with Slack's real payload shapes.

Used by the tests (through ``tests/support/slack.py``) and by ``nephthys demo``.

Builders return plain dicts shaped like Slack's (Events API ``event_callback`` envelopes and their
inner events, interactivity payloads). :class:`SlackDelivery` signs and posts them::

    async with FakeSlack() as slack, serve(slack_api_base_url=slack.base_url, ...) as client:
        deliver = SlackDelivery(client, SIGNING_SECRET, fake=slack)
        asked = question(HELP, "U123", "how do I deploy?")
        response = await deliver.event(asked, event_id="Ev1")
        again = await deliver.event(asked, event_id="Ev1", retry_num=1)   # Slack's redelivery

With ``fake=``, a delivered message event also happens in the fake workspace (the question
exists there, so ``reactions.add`` on it works; a ``message_deleted`` removes it), as in Slack,
where the message exists before the event about it is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from nephthys.testing.fake_slack import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    FakeSlack,
    next_ts,
)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VERIFICATION_TOKEN = "Jhj5dZrVaK7ZwHHjRyZWjbDl"  # the deprecated ``token`` field Slack still sends
EVENTS_PATH = "/slack/events"

Event = dict[str, Any]


# --------------------------------------------------------------------------- signing


def signature(body: bytes | str, secret: str, timestamp: int | str) -> str:
    """Slack's v0 signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes | str,
    secret: str,
    *,
    timestamp: int | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> dict[str, str]:
    """The headers Slack sends with ``body``; a redelivery adds ``X-Slack-Retry-Num``/``-Reason``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature(body, secret, timestamp),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


def form_body(payload: Mapping[str, Any]) -> bytes:
    """An interactivity request body: ``payload=<url-encoded JSON>``."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


# ------------------------------------------------------------------ Events API


def new_event_id() -> str:
    return "Ev" + uuid.uuid4().hex[:10].upper()


def event_callback(
    event: Event,
    *,
    event_id: str | None = None,
    event_time: int | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
) -> dict[str, Any]:
    """The ``event_callback`` envelope Slack posts for ``event``."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + uuid.uuid4().hex,
    }


def url_verification(challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P") -> dict:
    return {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}


def rich_text(text: str) -> list[dict]:
    """The ``blocks`` Slack's clients attach to a typed message."""
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
        }
    ]


def message(
    channel: str,
    user: str,
    text: str,
    *,
    ts: str | None = None,
    thread_ts: str | None = None,
    parent_user_id: str | None = None,
    subtype: str | None = None,
    channel_type: str = "channel",
    team: str = TEAM_ID,
    **extra: Any,
) -> Event:
    """A ``message`` event from a person, as a channel member's client sends it."""
    ts = ts or next_ts()
    event: Event = {"type": "message"}
    if subtype is not None:
        event["subtype"] = subtype
    event.update(
        {
            "user": user,
            "text": text,
            "ts": ts,
            "client_msg_id": str(uuid.uuid4()),
            "team": team,
            "blocks": rich_text(text),
            "channel": channel,
            "event_ts": ts,
            "channel_type": channel_type,
        }
    )
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = parent_user_id or user
    event.update(extra)
    return event


def question(channel: str, user: str, text: str, *, ts: str | None = None) -> Event:
    """A top-level message in the help channel: what opens a ticket."""
    return message(channel, user, text, ts=ts)


def thread_reply(
    channel: str, user: str, text: str, *, thread_ts: str, parent_user_id: str, ts: str | None = None
) -> Event:
    """A reply in a thread (``thread_ts`` is the parent's ts)."""
    return message(channel, user, text, ts=ts, thread_ts=thread_ts, parent_user_id=parent_user_id)


def slack_file(user: str, *, name: str = "screenshot.png", mimetype: str = "image/png") -> dict:
    """A file object as it appears in ``files`` of a ``file_share`` message."""
    file_id = "F" + uuid.uuid4().hex[:10].upper()
    filetype = name.rsplit(".", 1)[-1]
    return {
        "id": file_id,
        "created": int(time.time()),
        "timestamp": int(time.time()),
        "name": name,
        "title": name,
        "mimetype": mimetype,
        "filetype": filetype,
        "pretty_type": filetype.upper(),
        "user": user,
        "user_team": TEAM_ID,
        "editable": False,
        "size": 48213,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": True,
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": f"https://files.slack.com/files-pri/{TEAM_ID}-{file_id}/{name}",
        "url_private_download": f"https://files.slack.com/files-pri/{TEAM_ID}-{file_id}/download/{name}",
        "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{user}/{file_id}/{name}",
        "permalink_public": f"https://slack-files.com/{TEAM_ID}-{file_id}-0a1b2c3d4e",
        "has_rich_preview": False,
        "file_access": "visible",
    }


def file_share(
    channel: str,
    user: str,
    text: str = "",
    *,
    files: list[dict] | None = None,
    ts: str | None = None,
    thread_ts: str | None = None,
    parent_user_id: str | None = None,
) -> Event:
    """A message with uploaded files (subtype ``file_share``); ``text`` may be empty."""
    event = message(
        channel,
        user,
        text,
        ts=ts,
        thread_ts=thread_ts,
        parent_user_id=parent_user_id,
        subtype="file_share",
        files=files if files is not None else [slack_file(user)],
        upload=False,
        display_as_bot=False,
    )
    if not text:
        event.pop("blocks")
    return event


def thread_broadcast(
    channel: str,
    user: str,
    text: str,
    *,
    thread_ts: str,
    parent_user_id: str,
    root: dict | None = None,
    ts: str | None = None,
) -> Event:
    """A thread reply also sent to the channel (subtype ``thread_broadcast``, with ``root``)."""
    event = message(
        channel,
        user,
        text,
        ts=ts,
        thread_ts=thread_ts,
        parent_user_id=parent_user_id,
        subtype="thread_broadcast",
    )
    event["root"] = root or {
        "type": "message",
        "user": parent_user_id,
        "text": "",
        "ts": thread_ts,
        "thread_ts": thread_ts,
        "reply_count": 1,
        "reply_users_count": 1,
        "latest_reply": event["ts"],
        "reply_users": [user],
        "is_locked": False,
        "team": TEAM_ID,
    }
    return event


def me_message(channel: str, user: str, text: str, *, ts: str | None = None) -> Event:
    """A ``/me`` message (subtype ``me_message``)."""
    event = message(channel, user, text, ts=ts, subtype="me_message")
    event.pop("client_msg_id")
    event.pop("blocks")
    return event


def bot_message(
    channel: str,
    text: str,
    *,
    bot_id: str = "B0OTHERBOT1",
    username: str = "some-integration",
    app_id: str = "A0OTHERAPP1",
    user: str | None = None,
    ts: str | None = None,
    thread_ts: str | None = None,
) -> Event:
    """A message from a bot or integration (subtype ``bot_message``); ``user`` only for app bots."""
    ts = ts or next_ts()
    event: Event = {
        "type": "message",
        "subtype": "bot_message",
        "text": text,
        "ts": ts,
        "bot_id": bot_id,
        "username": username,
        "app_id": app_id,
        "bot_profile": {
            "id": bot_id,
            "app_id": app_id,
            "name": username,
            "deleted": False,
            "team_id": TEAM_ID,
        },
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    }
    if user is not None:
        event["user"] = user
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def _as_stored(event: Event) -> dict:
    """The message object Slack nests in ``message_changed``/``message_deleted`` (no channel/event_ts)."""
    return {k: v for k, v in event.items() if k not in ("channel", "event_ts", "channel_type")}


def message_changed(original: Event, new_text: str, *, editor: str | None = None) -> Event:
    """``original`` (a message event) edited to ``new_text`` (subtype ``message_changed``)."""
    ts = next_ts()
    previous = _as_stored(original)
    changed = {**previous, "text": new_text, "edited": {"user": editor or original.get("user", ""), "ts": ts}}
    if "blocks" in changed:
        changed["blocks"] = rich_text(new_text)
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": changed,
        "previous_message": previous,
        "channel": original["channel"],
        "hidden": True,
        "ts": ts,
        "event_ts": ts,
        "channel_type": original.get("channel_type", "channel"),
    }


def message_tombstoned(original: Event) -> Event:
    """``original`` (a question with replies) deleted: Slack keeps it as a tombstone and says so
    with a ``message_changed`` whose ``message.subtype`` is ``tombstone``."""
    ts = next_ts()
    previous = _as_stored(original)
    tombstone = {
        "type": "message",
        "subtype": "tombstone",
        "text": "This message was deleted.",
        "user": "USLACKBOT",
        "hidden": True,
        "ts": original["ts"],
        "thread_ts": original["ts"],
        "reply_count": max(1, int(original.get("reply_count") or 1)),
    }
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": tombstone,
        "previous_message": previous,
        "channel": original["channel"],
        "hidden": True,
        "ts": ts,
        "event_ts": ts,
        "channel_type": original.get("channel_type", "channel"),
    }


def message_deleted(original: Event) -> Event:
    """``original`` (a message event) deleted (subtype ``message_deleted``, ``deleted_ts``)."""
    ts = next_ts()
    return {
        "type": "message",
        "subtype": "message_deleted",
        "previous_message": _as_stored(original),
        "channel": original["channel"],
        "hidden": True,
        "deleted_ts": original["ts"],
        "ts": ts,
        "event_ts": ts,
        "channel_type": original.get("channel_type", "channel"),
    }


def member_joined_channel(user: str, channel: str, *, inviter: str | None = None) -> Event:
    event: Event = {
        "type": "member_joined_channel",
        "user": user,
        "channel": channel,
        "channel_type": "C",
        "team": TEAM_ID,
        "event_ts": next_ts(),
    }
    if inviter is not None:
        event["inviter"] = inviter
    return event


def member_left_channel(user: str, channel: str) -> Event:
    return {
        "type": "member_left_channel",
        "user": user,
        "channel": channel,
        "channel_type": "C",
        "team": TEAM_ID,
        "event_ts": next_ts(),
    }


def app_home_opened(
    user: str, *, channel: str | None = None, tab: str = "home", view: dict | None = None
) -> Event:
    """The user opened the app's Home tab (``view`` is there when a Home was published before)."""
    event: Event = {
        "type": "app_home_opened",
        "user": user,
        "channel": channel or "D" + hashlib.sha1(user.encode()).hexdigest()[:10].upper(),
        "tab": tab,
        "event_ts": next_ts(),
    }
    if view is not None:
        event["view"] = view
    return event


# ------------------------------------------------------------- interactivity


def interaction_user(user: str, *, username: str | None = None) -> dict:
    username = username or user.lower()
    return {"id": user, "username": username, "name": username, "team_id": TEAM_ID}


def _trigger_id() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"


def button(
    action_id: str, *, value: str | None = None, block_id: str | None = None, text: str = "Button"
) -> dict:
    """One entry of a ``block_actions`` payload's ``actions``: a clicked button."""
    action = {
        "action_id": action_id,
        "block_id": block_id or uuid.uuid4().hex[:5],
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    return action


def block_actions(
    user: str,
    actions: list[dict] | dict,
    *,
    channel: str | None = None,
    message: dict | None = None,
    message_ts: str | None = None,
    is_ephemeral: bool = False,
    view: dict | None = None,
    username: str | None = None,
) -> dict:
    """A ``block_actions`` payload: a click in a message (``channel`` + ``message``/``message_ts``)
    or in a view such as the App Home (``view``).
    """
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": interaction_user(user, username=username),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "state": {"values": {}},
        "actions": actions if isinstance(actions, list) else [actions],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "V0FAKEVIEW1")}
        payload["view"] = view
    else:
        if channel is None:
            raise ValueError("block_actions on a message needs its channel")
        message = dict(message) if message else {}
        message_ts = message_ts or message.get("ts")
        if message_ts is None:
            raise ValueError("block_actions on a message needs message or message_ts")
        message.setdefault("type", "message")
        message.setdefault("ts", message_ts)
        message.pop("channel", None)  # FakeSlack.message() adds it; Slack's payload has it outside
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": is_ephemeral,
        }
        if message.get("thread_ts"):
            payload["container"]["thread_ts"] = message["thread_ts"]
        payload["channel"] = {"id": channel, "name": channel.lower()}
        if not is_ephemeral:
            payload["message"] = message
        payload["response_url"] = f"https://hooks.slack.com/actions/{TEAM_ID}/{uuid.uuid4().int % 10**12}/x"
    return payload


def view_submission(
    user: str,
    *,
    callback_id: str,
    values: dict[str, dict[str, dict]] | None = None,
    private_metadata: str = "",
    view: dict | None = None,
    username: str | None = None,
) -> dict:
    """A ``view_submission`` payload; ``values`` is ``{block_id: {action_id: {"type":..., "value":...}}}``."""
    view_id = "V" + uuid.uuid4().hex[:10].upper()
    submitted = {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": "modal",
        "blocks": [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": values or {}},
        "hash": uuid.uuid4().hex[:20],
        "title": {"type": "plain_text", "text": "Nephthys", "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
        "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": APP_ID,
        "external_id": "",
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
    }
    if view:
        submitted.update(view)
        if values is not None:  # an opened view's (empty) state gives way to what was entered
            submitted["state"] = {"values": values}
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": interaction_user(user, username=username),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(),
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def radio_buttons_value(value: str | None, *, text: str = "Option") -> dict:
    """An input block's state for a ``radio_buttons`` element (``selected_option`` null when none)."""
    option = {"text": {"type": "plain_text", "text": text, "emoji": True}, "value": value}
    return {"type": "radio_buttons", "selected_option": option if value is not None else None}


def plain_text_value(value: str | None) -> dict:
    """An input block's state for a ``plain_text_input`` (``value`` null when left empty)."""
    return {"type": "plain_text_input", "value": value}


def block_suggestion(
    user: str,
    *,
    action_id: str,
    value: str,
    block_id: str | None = None,
    view: dict | None = None,
    channel: str | None = None,
    message_ts: str | None = None,
    username: str | None = None,
) -> dict:
    """A ``block_suggestion`` (options request for an external select) typed as ``value``."""
    payload: dict[str, Any] = {
        "type": "block_suggestion",
        "user": interaction_user(user, username=username),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id or uuid.uuid4().hex[:5],
        "value": value,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if channel is not None:
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel, "name": channel.lower()}
    else:
        view = view or {"id": "V" + uuid.uuid4().hex[:10].upper(), "type": "modal", "callback_id": ""}
        payload["container"] = {"type": "view", "view_id": view["id"]}
        payload["view"] = view
    return payload


# ------------------------------------------------------------------ delivery


def _mirror(fake: FakeSlack, event: Event) -> None:
    """Make what the event reports true in the fake workspace, once (redeliveries change nothing)."""
    if event.get("type") != "message" or "channel" not in event:
        return
    channel, subtype = event["channel"], event.get("subtype")
    if subtype == "message_changed" and event["message"].get("subtype") == "tombstone":
        fake.tombstone_message(channel, event["message"]["ts"])
    elif subtype == "message_changed":
        changed = event["message"]
        if fake.message(channel, changed["ts"]) is not None:
            fake.edit_message(channel, changed["ts"], text=changed.get("text", ""), user=changed.get("user"))
    elif subtype == "message_deleted":
        fake.remove_message(channel, event["deleted_ts"])
    elif subtype in (None, "file_share", "thread_broadcast", "me_message", "bot_message"):
        if fake.message(channel, event["ts"]) is None and not fake.was_deleted(channel, event["ts"]):
            fake.add_message(
                channel,
                user=event.get("user"),
                text=event.get("text", ""),
                ts=event["ts"],
                thread_ts=event.get("thread_ts"),
                subtype=subtype,
                bot_id=event.get("bot_id"),
                files=event.get("files"),
                blocks=event.get("blocks"),
            )


class SlackDelivery:
    """Posts signed Events API and interactivity requests to our app through ``client``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        signing_secret: str = SIGNING_SECRET,
        *,
        fake: FakeSlack | None = None,
        path: str = EVENTS_PATH,
        interactions_path: str | None = None,
    ) -> None:
        self.client = client
        self.signing_secret = signing_secret
        self.fake = fake
        self.path = path
        self.interactions_path = interactions_path or path
        self.last_envelope: dict | None = None

    async def event(
        self,
        event: Event,
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
    ) -> httpx.Response:
        """Wrap ``event`` in an ``event_callback`` envelope and deliver it.

        Deliver the same event again with the same ``event_id`` and a ``retry_num`` to act as
        Slack's redelivery.
        """
        envelope = event_callback(event, event_id=event_id, **self._workspace())
        return await self.envelope(
            envelope, retry_num=retry_num, retry_reason=retry_reason, timestamp=timestamp
        )

    async def envelope(
        self,
        envelope: Mapping[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
    ) -> httpx.Response:
        """Deliver a whole envelope (e.g. ``deliver.last_envelope`` again, as a retry)."""
        self.last_envelope = dict(envelope)
        if self.fake is not None and isinstance(envelope.get("event"), dict):
            _mirror(self.fake, envelope["event"])
        body = json.dumps(envelope, separators=(",", ":")).encode()
        return await self.post(
            body,
            content_type="application/json",
            retry_num=retry_num,
            retry_reason=retry_reason,
            timestamp=timestamp,
        )

    async def redeliver(self, *, retry_num: int = 1, retry_reason: str = "http_timeout") -> httpx.Response:
        """Deliver the last envelope again, as Slack does after a slow or failed acknowledgement."""
        if self.last_envelope is None:
            raise RuntimeError("nothing was delivered yet")
        return await self.envelope(self.last_envelope, retry_num=retry_num, retry_reason=retry_reason)

    async def action(self, payload: Mapping[str, Any], *, timestamp: int | None = None) -> httpx.Response:
        """Deliver an interactivity payload (``block_actions``, ``view_submission``, ``block_suggestion``)."""
        if self.fake is not None and payload.get("trigger_id"):
            self.fake.issue_trigger(payload["trigger_id"])
        return await self.post(
            form_body(payload),
            content_type="application/x-www-form-urlencoded",
            path=self.interactions_path,
            timestamp=timestamp,
        )

    async def url_verification(self, challenge: str = "challenge-from-slack") -> httpx.Response:
        body = json.dumps(url_verification(challenge)).encode()
        return await self.post(body, content_type="application/json")

    async def post(
        self,
        body: bytes,
        *,
        content_type: str,
        path: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
        signature_override: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Post ``body`` signed with ``secret`` (default: ours) at ``timestamp`` (default: now).

        ``signature_override`` sends that signature instead, for forged-request tests.
        """
        headers = signed_headers(
            body,
            secret or self.signing_secret,
            timestamp=timestamp,
            retry_num=retry_num,
            retry_reason=retry_reason,
        )
        if signature_override is not None:
            headers["X-Slack-Signature"] = signature_override
        headers["Content-Type"] = content_type
        headers.update(extra_headers or {})
        return await self.client.post(path or self.path, content=body, headers=headers)

    def _workspace(self) -> dict[str, Any]:
        if self.fake is None:
            return {}
        return {
            "team_id": self.fake.team_id,
            "api_app_id": self.fake.app_id,
            "bot_user_id": self.fake.bot_user_id,
        }


__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "EVENTS_PATH",
    "SIGNING_SECRET",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "VERIFICATION_TOKEN",
    "Event",
    "SlackDelivery",
    "app_home_opened",
    "block_actions",
    "block_suggestion",
    "bot_message",
    "button",
    "event_callback",
    "file_share",
    "form_body",
    "interaction_user",
    "me_message",
    "member_joined_channel",
    "member_left_channel",
    "message",
    "message_changed",
    "message_deleted",
    "message_tombstoned",
    "new_event_id",
    "next_ts",
    "plain_text_value",
    "question",
    "radio_buttons_value",
    "rich_text",
    "signature",
    "signed_headers",
    "slack_file",
    "thread_broadcast",
    "thread_reply",
    "url_verification",
    "view_submission",
]
