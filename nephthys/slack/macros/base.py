"""What a macro is: a name, its aliases, who may run it, whether it runs on a closed ticket, and what it does."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from nephthys.slack.context import SlackContext
from nephthys.slack.instants import slack_instant
from nephthys.tickets.lifecycle import TicketState


class Who(enum.StrEnum):
    HELPERS = "helpers"
    ASKER_OR_HELPERS = "asker_or_helpers"


@dataclass(frozen=True)
class MacroCall:
    """One ``?name args`` reply in a ticket's thread."""

    ctx: SlackContext
    ticket: TicketState
    user: str  # who wrote the macro
    user_is_helper: bool
    args: str  # the text after the name, stripped
    ts: str  # the macro message's ts

    @property
    def user_is_asker(self) -> bool:
        return self.user == self.ticket.opened_by_slack_id

    @property
    def at(self) -> datetime | None:
        """When the macro was sent (its ts): the instant of what it does to the ticket."""
        return slack_instant(self.ts)


@dataclass(frozen=True)
class Macro:
    name: str
    run: Callable[[MacroCall], Awaitable[None]]
    aliases: tuple[str, ...] = ()
    who: Who = Who.HELPERS
    runs_on_closed: bool = False
    summary: str = ""
    # It answers the asker in the thread: on the ticket's timeline it is the helper's message.
    speaks: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)
