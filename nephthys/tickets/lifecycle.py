"""Every change to a ticket: open, reply, assign, resolve, reopen, delete.

Each function takes the ids it needs, runs in one transaction and returns what
changed, so the caller (a Slack listener, a macro, a scheduled job) can do its
Slack side effects after the commit. Concurrent calls on one ticket serialise on
the ticket's row lock (``SELECT … FOR UPDATE``) or on a conditional update, so
two helpers replying at once, a resolve during a reply, or two resolves at once
end in one consistent state.

The functions live by concern, beside this module: ``core`` (what they share),
``users``, ``opening``, ``replies`` (and assignment), ``closing`` (and reopening),
``deletion``, ``question_tags``, ``follow_up`` (the asker follow-up's nudge and its answer), ``sla_events`` (the SLA
watcher's warnings and breaches), ``bot_messages``
and ``reads``. This module is their one public face: callers write
``lifecycle.resolve_ticket(...)`` whichever module holds it.
"""

from __future__ import annotations

from nephthys.tickets.bot_messages import (
    bot_messages,
    forget_bot_message,
    record_backend_message,
    record_bot_message,
)
from nephthys.tickets.closing import close_quiet_ticket, note_thread_activity, reopen_ticket, resolve_ticket
from nephthys.tickets.core import (
    ATTEMPTS,
    DEFAULT_CREDIT_WINDOW,
    Change,
    DeletedTicket,
    KeptTicket,
    MacroRecorded,
    OpenedTicket,
    Outcome,
    PostedMessage,
    ReplyRecorded,
    Sessions,
    TicketState,
    autocommit,
    closure_key,
    retried_on_conflict,
)
from nephthys.tickets.deletion import delete_ticket, question_deleted
from nephthys.tickets.follow_up import asker_needs_help, record_nudge, wait_key
from nephthys.tickets.opening import (
    open_ticket,
    previous_ticket_count,
    previous_ticket_count_in,
    set_ai_title,
    update_description,
)
from nephthys.tickets.question_tags import set_automatic_question_tag, set_question_tag
from nephthys.tickets.reads import (
    AskedTicket,
    AssignedPage,
    AssignedTicket,
    BackendView,
    assigned_tickets,
    backend_view,
    ticket_by_id,
    ticket_by_msg_ts,
    ticket_in,
    tickets_asked_by,
    tickets_needing_repair,
)
from nephthys.tickets.replies import record_helper_macro, record_reply
from nephthys.tickets.sla_events import SlaClaim, note_sla_messages, record_sla_event, record_sla_events
from nephthys.tickets.users import (
    Viewer,
    is_helper,
    remember_home_view,
    set_admin,
    set_helper,
    set_username,
    sync_helpers,
    upsert_user,
    user_needs_username,
    viewer,
)

__all__ = [
    "ATTEMPTS",
    "AskedTicket",
    "BackendView",
    "AssignedPage",
    "AssignedTicket",
    "Change",
    "DEFAULT_CREDIT_WINDOW",
    "DeletedTicket",
    "KeptTicket",
    "MacroRecorded",
    "OpenedTicket",
    "Outcome",
    "PostedMessage",
    "ReplyRecorded",
    "Sessions",
    "SlaClaim",
    "TicketState",
    "Viewer",
    "asker_needs_help",
    "assigned_tickets",
    "autocommit",
    "backend_view",
    "bot_messages",
    "close_quiet_ticket",
    "closure_key",
    "delete_ticket",
    "forget_bot_message",
    "is_helper",
    "note_sla_messages",
    "note_thread_activity",
    "open_ticket",
    "previous_ticket_count",
    "previous_ticket_count_in",
    "question_deleted",
    "record_backend_message",
    "record_bot_message",
    "record_helper_macro",
    "record_nudge",
    "record_reply",
    "record_sla_event",
    "record_sla_events",
    "remember_home_view",
    "reopen_ticket",
    "resolve_ticket",
    "retried_on_conflict",
    "set_admin",
    "set_ai_title",
    "set_automatic_question_tag",
    "set_helper",
    "set_question_tag",
    "set_username",
    "sync_helpers",
    "ticket_by_id",
    "ticket_in",
    "ticket_by_msg_ts",
    "tickets_asked_by",
    "tickets_needing_repair",
    "update_description",
    "upsert_user",
    "user_needs_username",
    "viewer",
    "wait_key",
]
