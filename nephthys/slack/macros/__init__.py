"""Helpers' ``?name`` replies in a ticket's thread.

Adding a macro: write a small module in this package that defines ``MACRO =
Macro(name=..., run=..., aliases=..., who=..., runs_on_closed=...)`` and add it to
``MACROS`` below. ``dispatch`` finds it by name or alias and checks who may run it
and whether the ticket may be closed before calling ``run``.
"""

from __future__ import annotations

import re

from nephthys.database.models import TicketStatus
from nephthys.slack import flows
from nephthys.slack.context import SlackContext
from nephthys.slack.macros import faq, hii, redirect, reopen, resolve, search, tag, thread
from nephthys.slack.macros.base import Macro, MacroCall, Who
from nephthys.slack.macros.removal import remove_macro_message
from nephthys.slack.macros.unknown import unknown_macro_text
from nephthys.slack.messages import mention
from nephthys.tickets import lifecycle

MACROS: list[Macro] = [
    resolve.MACRO,
    reopen.MACRO,
    faq.MACRO,
    thread.MACRO,
    tag.MACRO,
    hii.MACRO,
    search.MACRO,
]

_MACRO_TEXT = re.compile(r"^\?([A-Za-z0-9_-]+)(?:\s+(.*))?$", re.DOTALL)

__all__ = ["MACROS", "Macro", "MacroCall", "Who", "dispatch", "find_macro", "macros_for", "parse_macro"]


def parse_macro(text: str) -> tuple[str, str] | None:
    """(name, args) for a ``?name args`` message, else None."""
    match = _MACRO_TEXT.match(text.strip())
    if match is None:
        return None
    return match.group(1).lower(), (match.group(2) or "").strip()


def find_macro(name: str, macros: list[Macro] | None = None) -> Macro | None:
    for macro in MACROS if macros is None else macros:
        if name in macro.names:
            return macro
    return None


def macros_for(transcript) -> list[Macro]:
    """The built-in macros, then the redirect macros the program declares (a built-in name wins)."""
    return [*MACROS, *redirect.program_macros(transcript)]


async def dispatch(ctx: SlackContext, *, thread_ts: str, ts: str, user: str, text: str) -> bool:
    """Run the macro in ``text`` if it is one; True when the message was taken as a macro.

    A message that is not a macro (or an unknown ``?word`` from someone who is not a
    helper) is left to be recorded as an ordinary reply. A macro message that ran, or
    that a helper sent and was refused, is then removed from the thread.
    """
    outcome = await _dispatch(ctx, thread_ts=thread_ts, ts=ts, user=user, text=text)
    if outcome == "remove":
        await remove_macro_message(ctx, ts=ts)
    return outcome != "reply"


async def _dispatch(ctx: SlackContext, *, thread_ts: str, ts: str, user: str, text: str) -> str:
    """What became of the message: "reply" (not a macro), "keep" or "remove" (taken as a macro)."""
    parsed = parse_macro(text)
    if parsed is None:
        return "reply"
    name, args = parsed
    ticket = await lifecycle.ticket_by_msg_ts(ctx.sessions, thread_ts)
    if ticket is None:
        return "reply"
    user_is_helper = await lifecycle.is_helper(ctx.sessions, slack_id=user)
    macros = macros_for(ctx.transcript)
    macro = find_macro(name, macros)
    if macro is None:
        if not user_is_helper:
            return "reply"
        await flows.tell(
            ctx,
            user=user,
            channel=ctx.channels.help,
            thread_ts=thread_ts,
            text=unknown_macro_text(ctx.transcript, name, macros),
        )
        return "remove"
    call = MacroCall(ctx=ctx, ticket=ticket, user=user, user_is_helper=user_is_helper, args=args, ts=ts)
    allowed = user_is_helper or (macro.who is Who.ASKER_OR_HELPERS and call.user_is_asker)
    if not allowed:
        refusal = "asker_or_helpers_only" if macro.who is Who.ASKER_OR_HELPERS else "helpers_only"
        await flows.tell(
            ctx,
            user=user,
            channel=ctx.channels.help,
            thread_ts=thread_ts,
            text=ctx.transcript.text(refusal, user=mention(user)),
        )
        return "keep"
    if ticket.status is TicketStatus.CLOSED and not macro.runs_on_closed:
        await flows.tell(
            ctx,
            user=user,
            channel=ctx.channels.help,
            thread_ts=thread_ts,
            text=ctx.transcript.text("macro_closed_ticket", macro=macro.name),
        )
        return "remove"
    waiting_changed = False
    if macro.speaks and user_is_helper:
        # Its answer is the helper's message on the timeline, logged before what it does (a close).
        recorded = await lifecycle.record_helper_macro(
            ctx.sessions, ticket_id=ticket.id, helper_slack_id=user, ts=ts, at=call.at
        )
        waiting_changed = recorded.waiting_changed
    await macro.run(call)
    if waiting_changed:
        # After the macro: one that closed the ticket took its backend message away already.
        ctx.ticket_changed(ticket.assigned_to_slack_id)
        await flows.show_wait(ctx, ticket.id)
    return "remove"
