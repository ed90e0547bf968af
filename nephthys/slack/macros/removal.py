"""Removing the helper's ``?name`` message once the macro has run (it was a command, not a reply).

Only a user token (``SLACK_USER_TOKEN``, an admin's) may delete someone else's message.
Without one, or when Slack refuses, the heartbeat channel hears of it once per process
and macros carry on working; the message just stays.
"""

from __future__ import annotations

import logging
import weakref

from slack_sdk.errors import SlackApiError

from nephthys.slack import flows
from nephthys.slack.client import SlackClient, error_code
from nephthys.slack.context import SlackContext

log = logging.getLogger(__name__)

# Answers meaning "this token can never delete it", as opposed to a passing failure.
PERMANENT_REFUSALS = {
    "cant_delete_message",
    "not_authed",
    "invalid_auth",
    "token_revoked",
    "account_inactive",
    "missing_scope",
    "not_allowed_token_type",
}

_warned: weakref.WeakSet[SlackClient] = weakref.WeakSet()

NO_TOKEN_NOTE = (
    ":information_source: Macro messages stay in the help threads: SLACK_USER_TOKEN is not set, "
    "and only a user token may delete other people's messages."
)


async def _say_once(ctx: SlackContext, text: str) -> None:
    if ctx.client in _warned:
        return
    _warned.add(ctx.client)
    log.warning(text)
    if ctx.heartbeat is not None:
        await ctx.heartbeat.post(text)


async def remove_macro_message(ctx: SlackContext, *, ts: str) -> bool:
    """Delete the macro message ``ts`` in the help channel; True when it is gone."""
    if ctx.client.user_web is None:
        await _say_once(ctx, NO_TOKEN_NOTE)
        return False
    try:
        return await ctx.client.delete_message(channel=ctx.channels.help, ts=ts, as_user=True)
    except SlackApiError as error:
        code = error_code(error)
        if code in PERMANENT_REFUSALS:
            await _say_once(
                ctx,
                f":information_source: Macro messages stay in the help threads: Slack refused to delete "
                f"one with SLACK_USER_TOKEN ({code!r}).",
            )
        else:
            log.warning("macro message %s not removed: %s", ts, flows.describe(error))
        return False
    except Exception as error:
        log.warning("macro message %s not removed: %s", ts, flows.describe(error))
        return False
