"""The Slack Web API as Nephthys uses it: one client that knows the base URL, retries and
rate limits, and treats "already done" answers (``already_reacted``, ``no_reaction``,
``message_not_found``) as success, so every step can be repeated safely.

Posting is the one call Slack cannot make idempotent (chat.postMessage has no idempotency
key), so every post carries message metadata (a :class:`PostTag`: what the post is for, its
ticket, and an id of its own). When a post's answer is lost (a 5xx, a dropped connection, a
timeout) the client reads the channel or thread back (``include_all_metadata``) and adopts
its post if Slack did make it, rather than posting again; and the repair job looks for a
ticket's tagged messages before it posts anything (``tagged_messages``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import RandomJitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from nephthys.config import Settings

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 10
_BACKOFF = BackoffRetryIntervalCalculator(backoff_factor=0.2, jitter=RandomJitter())


class AnyServerErrorRetryHandler(AsyncRetryHandler):
    """Retries any 5xx (slack_sdk's own handler only retries 500 and 503)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code < 600


def retry_handlers() -> list[AsyncRetryHandler]:
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=3, interval_calculator=_BACKOFF),
        # Sleeps for the Retry-After Slack sends with the 429.
        AsyncRateLimitErrorRetryHandler(max_retry_count=5),
        AnyServerErrorRetryHandler(max_retry_count=3, interval_calculator=_BACKOFF),
    ]


def posting_retry_handlers() -> list[AsyncRetryHandler]:
    """Only the retries that cannot post twice: a 429 (Slack did nothing) and a connection that
    was never made. A 5xx or a dropped connection may come after Slack posted: ``post_message``
    looks before it posts again."""
    return [
        AsyncConnectionErrorRetryHandler(
            max_retry_count=3, interval_calculator=_BACKOFF, error_types=[aiohttp.ClientConnectorError]
        ),
        AsyncRateLimitErrorRetryHandler(max_retry_count=5),
    ]


def web_client(
    token: str | None,
    settings: Settings,
    session: aiohttp.ClientSession | None,
    handlers: list[AsyncRetryHandler] | None = None,
) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_base_url,
        session=session,
        timeout=REQUEST_TIMEOUT_SECONDS,
        retry_handlers=retry_handlers() if handlers is None else handlers,
    )


def _worth_retrying(error: SlackApiError) -> bool:
    """Slack was overloaded or failing (the retry handlers already waited): not a refusal."""
    status = error.response.status_code if error.response is not None else 200
    return status == 429 or status >= 500 or error_code(error) in _PASSING_ERRORS


_PASSING_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


# The metadata event type of every bot post (Slack: letters, digits, underscores).
POST_EVENT_TYPE = "nephthys_post"
# Attempts at one post whose answers are lost, each after looking for it (backoff between).
POST_ATTEMPTS = 4
POST_RETRY_SECONDS = (0.2, 0.5, 1.0)
# How far back a post is looked for when its answer was lost (clocks differ; posts are slow).
LOST_POST_LOOKBACK_SECONDS = 600
# Pages of 200 messages read back at most when looking for a tagged message.
LOOKUP_PAGES = 5
LOOKUP_PAGE_SIZE = 200


@dataclass(frozen=True)
class PostTag:
    """What a bot post is for, carried as its Slack message metadata.

    ``role``: "backend" (a ticket's message in the tickets channel), "thread_reply" (the first
    reply in the question's thread), "note" (other messages in a ticket's thread), "heartbeat",
    "tag_notification"… ``ticket_id`` when the post belongs to a ticket.
    """

    role: str
    ticket_id: int | None = None

    def metadata(self, post_id: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"role": self.role, "post_id": post_id}
        if self.ticket_id is not None:
            payload["ticket_id"] = self.ticket_id
        return {"event_type": POST_EVENT_TYPE, "event_payload": payload}


def post_payload(message: dict) -> dict[str, Any] | None:
    """The event payload of one of our tagged posts, or None for any other message."""
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != POST_EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    return payload if isinstance(payload, dict) and message.get("bot_id") else None


def answer_lost(error: BaseException) -> bool:
    """The request may have been carried out although no success came back."""
    if isinstance(error, SlackApiError):
        status = error.response.status_code if error.response is not None else 200
        return status >= 500
    if isinstance(error, aiohttp.ClientConnectorError):
        return False  # never connected: nothing was sent
    return isinstance(error, aiohttp.ClientError | TimeoutError)


def transient(error: BaseException) -> bool:
    """Slack was overloaded, failing or out of reach (after the retry handlers): worth trying later."""
    if isinstance(error, SlackApiError):
        return _worth_retrying(error)
    return isinstance(error, aiohttp.ClientError | TimeoutError)


def error_code(error: SlackApiError) -> str | None:
    response = error.response
    data = response.data if response is not None else None
    return data.get("error") if isinstance(data, dict) else None


@dataclass(frozen=True)
class Profile:
    """How a person appears in Slack: the name and avatar a message posted for them borrows."""

    name: str | None
    avatar_url: str | None


# users.info answers are reused this long: a ticket's backend message and the username
# remembered for it come from one call.
PROFILE_TTL_SECONDS = 600
PROFILES_KEPT = 2000


@dataclass(frozen=True)
class BotIdentity:
    user_id: str | None = None
    bot_id: str | None = None
    team_id: str | None = None


class SlackClient:
    """The calls the bot makes, each tolerant of being repeated."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession | None = None) -> None:
        self.web = web_client(settings.slack_bot_token, settings, session)
        self.posting_web = web_client(settings.slack_bot_token, settings, session, posting_retry_handlers())
        # Only a user token may delete other people's messages (broadcast replies).
        self.user_web = (
            web_client(settings.slack_user_token, settings, session) if settings.slack_user_token else None
        )
        self._profiles: dict[str, tuple[float, Profile | None]] = {}

    async def identity(self) -> BotIdentity:
        response = await self.web.auth_test()
        return BotIdentity(
            user_id=response.get("user_id"), bot_id=response.get("bot_id"), team_id=response.get("team_id")
        )

    async def post_message(
        self,
        *,
        channel: str,
        text: str,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
        unfurl: bool = False,
        speaking_as: Profile | None = None,
        tag: PostTag | None = None,
    ) -> str:
        """Post and return the new message's ts; posted once even when Slack's answer is lost.

        The post carries ``tag`` (default: a plain "message") as metadata with an id of its own;
        a lost answer is followed by a look for that id before the next attempt.
        ``speaking_as``: post with that person's name and avatar (``chat:write.customize``);
        if Slack refuses them for good, the message is posted as the bot itself.
        """
        post_id = uuid.uuid4().hex
        kwargs: dict[str, Any] = {
            "channel": channel,
            "text": text,
            "unfurl_links": unfurl,
            "unfurl_media": unfurl,
            "metadata": (tag or PostTag("message")).metadata(post_id),
        }
        if blocks is not None:
            kwargs["blocks"] = blocks
        if thread_ts is not None:
            kwargs["thread_ts"] = thread_ts
        identity: dict[str, Any] = {}
        if speaking_as is not None and speaking_as.name:
            identity["username"] = speaking_as.name
            if speaking_as.avatar_url:
                identity["icon_url"] = speaking_as.avatar_url
        if identity:
            try:
                return await self._post_once(kwargs | identity, post_id=post_id)
            except SlackApiError as error:
                if _worth_retrying(error):
                    raise
                log.warning(
                    "message posted as the bot: Slack refused the asker's identity (%s)", error_code(error)
                )
        return await self._post_once(kwargs, post_id=post_id)

    async def _post_once(self, kwargs: dict[str, Any], *, post_id: str) -> str:
        """chat.postMessage, looked for by its ``post_id`` after each lost answer before trying again."""
        channel: str = kwargs["channel"]
        thread_ts: str | None = kwargs.get("thread_ts")
        since = time.time() - LOST_POST_LOOKBACK_SECONDS
        for attempt in range(POST_ATTEMPTS):
            try:
                response = await self.posting_web.chat_postMessage(**kwargs)
                return response["ts"]
            except Exception as error:
                if not answer_lost(error) or attempt == POST_ATTEMPTS - 1:
                    raise
                lost = error
            try:
                found = await self.tagged_messages(
                    channel=channel,
                    thread_ts=thread_ts,
                    oldest=since,
                    match=lambda payload: payload.get("post_id") == post_id,
                )
            except Exception as error:
                log.warning(
                    "post in %s: answer lost (%s) and not looked for (%s)", channel, _lost(lost), _lost(error)
                )
                raise lost from error
            if found:
                log.warning(
                    "post in %s: answer lost (%s), but Slack has it: %s adopted", channel, lost, found[0]
                )
                return found[0]
            await asyncio.sleep(POST_RETRY_SECONDS[min(attempt, len(POST_RETRY_SECONDS) - 1)])
        raise AssertionError("unreachable")

    async def tagged_messages(
        self,
        *,
        channel: str,
        thread_ts: str | None = None,
        oldest: float | str | None = None,
        match: Callable[[dict[str, Any]], bool],
    ) -> list[str]:
        """The ts of our tagged posts whose payload ``match`` accepts, newest first.

        In a thread (conversations.replies) when ``thread_ts`` is given, else at the channel's top
        level (conversations.history, from ``oldest``); at most LOOKUP_PAGES pages are read.
        """
        found: list[str] = []
        cursor: str | None = None
        for _ in range(LOOKUP_PAGES):
            kwargs: dict[str, Any] = {
                "channel": channel,
                "include_all_metadata": True,
                "limit": LOOKUP_PAGE_SIZE,
            }
            if cursor:
                kwargs["cursor"] = cursor
            if thread_ts is not None:
                response = await self.web.conversations_replies(ts=thread_ts, **kwargs)
            else:
                if oldest is not None:
                    kwargs["oldest"] = oldest if isinstance(oldest, str) else f"{oldest:.6f}"
                response = await self.web.conversations_history(**kwargs)
            for message in response.get("messages") or []:
                payload = post_payload(message)
                if payload is not None and match(payload):
                    found.append(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        else:
            log.warning("looked through %d pages of %s without reaching the end", LOOKUP_PAGES, channel)
        return sorted(found, key=_ts_order, reverse=True)

    async def update_message(
        self, *, channel: str, ts: str, text: str, blocks: list[dict] | None = None
    ) -> bool:
        """Edit a message; False when it no longer exists."""
        try:
            await self.web.chat_update(channel=channel, ts=ts, text=text, blocks=blocks or [])
        except SlackApiError as error:
            if error_code(error) in {"message_not_found", "cant_update_message"}:
                return False
            raise
        return True

    async def delete_message(self, *, channel: str, ts: str, as_user: bool = False) -> bool:
        """Delete a message; True also when it was already gone."""
        client = self.user_web if as_user else self.web
        if client is None:
            return False
        try:
            await client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as error:
            if error_code(error) == "message_not_found":
                return True
            raise
        return True

    async def add_reaction(self, *, channel: str, ts: str, name: str) -> None:
        try:
            await self.web.reactions_add(channel=channel, timestamp=ts, name=name)
        except SlackApiError as error:
            if error_code(error) != "already_reacted":
                raise

    async def remove_reaction(self, *, channel: str, ts: str, name: str) -> None:
        try:
            await self.web.reactions_remove(channel=channel, timestamp=ts, name=name)
        except SlackApiError as error:
            if error_code(error) not in {"no_reaction", "message_not_found"}:
                raise

    async def post_ephemeral(
        self, *, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> None:
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts is not None:
            kwargs["thread_ts"] = thread_ts
        await self.web.chat_postEphemeral(**kwargs)

    async def username(self, user_id: str) -> str | None:
        """The user's display name (falling back to the real name), or None if Slack won't say."""
        profile = await self.profile(user_id)
        return profile.name if profile is not None else None

    async def profile(self, user_id: str) -> Profile | None:
        """The user's name and avatar (users.info, reused for a while), or None if Slack won't say."""
        now = time.monotonic()
        cached = self._profiles.get(user_id)
        if cached is not None and now - cached[0] < PROFILE_TTL_SECONDS:
            return cached[1]
        try:
            response = await self.web.users_info(user=user_id)
        except SlackApiError as error:
            log.warning("users.info %s failed: %s", user_id, error_code(error))
            return None
        user = response.get("user") or {}
        details = user.get("profile") or {}
        found = Profile(
            name=details.get("display_name")
            or details.get("real_name")
            or user.get("real_name")
            or user.get("name"),
            avatar_url=details.get("image_192") or details.get("image_72") or details.get("image_48"),
        )
        if len(self._profiles) >= PROFILES_KEPT:
            self._profiles.clear()
        self._profiles[user_id] = (now, found)
        return found

    async def thread_messages(self, channel: str, thread_ts: str) -> list[dict]:
        """Every message of a thread, its parent first (conversations.replies, all pages)."""
        found: list[dict] = []
        cursor: str | None = None
        while True:
            kwargs: dict[str, Any] = {"channel": channel, "ts": thread_ts, "limit": 200}
            if cursor:
                kwargs["cursor"] = cursor
            response = await self.web.conversations_replies(**kwargs)
            found.extend(response.get("messages") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found

    async def channel_members(self, channel: str) -> set[str]:
        """Every member of a channel (conversations.members, all pages)."""
        members: set[str] = set()
        cursor: str | None = None
        while True:
            kwargs: dict[str, Any] = {"channel": channel, "limit": 1000}
            if cursor:
                kwargs["cursor"] = cursor
            response = await self.web.conversations_members(**kwargs)
            members.update(response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return members

    # ------------------------------------------------------------ scheduled jobs

    async def upload_file(
        self, *, channel: str, thread_ts: str | None, filename: str, content: bytes, title: str
    ) -> str | None:
        """Upload a file into a channel (or thread) by Slack's external upload flow; returns its id.

        slack_sdk's ``files_upload_v2``: files.getUploadURLExternal, the upload, files.completeUploadExternal.
        """
        response = await self.web.files_upload_v2(
            channel=channel, thread_ts=thread_ts, filename=filename, content=content, title=title
        )
        file = response.get("file") or {}
        return file.get("id")

    async def thread_last_activity(self, *, channel: str, ts: str) -> str | None:
        """The ts of the thread's latest message (the parent's, or its ``latest_reply``); None when
        the thread no longer exists (conversations.replies, one call)."""
        try:
            response = await self.web.conversations_replies(channel=channel, ts=ts, limit=1)
        except SlackApiError as error:
            if error_code(error) in {"thread_not_found", "message_not_found"}:
                return None
            raise
        messages = response.get("messages") or []
        if not messages:
            return None
        parent = messages[0]
        latest = parent.get("latest_reply") or parent.get("ts")
        return max((parent.get("ts") or "0", latest or "0"), key=_ts_order)


def _ts_order(ts: str) -> tuple[int, int]:
    """Slack ts strings in time order, without going through floats."""
    seconds, _, sequence = ts.partition(".")
    return int(seconds), int(sequence or 0)


def _lost(error: BaseException) -> str:
    """One short line for the log (slack_sdk's messages run over several)."""
    if isinstance(error, SlackApiError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error_code(error)!r}"
    return type(error).__name__
