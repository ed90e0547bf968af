"""The Slack Web API as Nephthys uses it: one client that knows the base URL, retries and
rate limits, and treats "already done" answers (``already_reacted``, ``no_reaction``,
``message_not_found``) as success, so every step can be repeated safely.
"""

from __future__ import annotations

import logging
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


def web_client(
    token: str | None, settings: Settings, session: aiohttp.ClientSession | None
) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_base_url,
        session=session,
        timeout=REQUEST_TIMEOUT_SECONDS,
        retry_handlers=retry_handlers(),
    )


def error_code(error: SlackApiError) -> str | None:
    response = error.response
    data = response.data if response is not None else None
    return data.get("error") if isinstance(data, dict) else None


@dataclass(frozen=True)
class BotIdentity:
    user_id: str | None = None
    bot_id: str | None = None
    team_id: str | None = None


class SlackClient:
    """The calls the bot makes, each tolerant of being repeated."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession | None = None) -> None:
        self.web = web_client(settings.slack_bot_token, settings, session)
        # Only a user token may delete other people's messages (broadcast replies).
        self.user_web = (
            web_client(settings.slack_user_token, settings, session) if settings.slack_user_token else None
        )

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
    ) -> str:
        """Post and return the new message's ts."""
        kwargs: dict[str, Any] = {
            "channel": channel,
            "text": text,
            "unfurl_links": unfurl,
            "unfurl_media": unfurl,
        }
        if blocks is not None:
            kwargs["blocks"] = blocks
        if thread_ts is not None:
            kwargs["thread_ts"] = thread_ts
        response = await self.web.chat_postMessage(**kwargs)
        return response["ts"]

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
        try:
            response = await self.web.users_info(user=user_id)
        except SlackApiError as error:
            log.warning("users.info %s failed: %s", user_id, error_code(error))
            return None
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        return (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
        )

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
    """Order Slack ts strings (seconds, then sequence) without floats."""
    seconds, _, sequence = ts.partition(".")
    return int(seconds or 0), int(sequence or 0)
