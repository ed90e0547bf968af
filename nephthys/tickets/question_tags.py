"""A ticket's question tag: a helper's choice, or the model's (issue 22 §4), each one transaction.

Question-tag changes write no timeline event (there is no event kind for them, and a helper's
never wrote one); the "chosen automatically" mark is kept in the ticket's memory row
("TicketSearch"."autoQuestionTagId", migration 0029).
"""

from __future__ import annotations

from nephthys.tags import service
from nephthys.tickets.core import Sessions, retried_on_conflict


@retried_on_conflict
async def set_question_tag(sessions: Sessions, *, ticket_id: int, question_tag_id: int | None) -> bool:
    """A helper's choice (None: cleared): True when the ticket's question tag or its mark changed."""
    async with sessions.begin() as session:
        return await service.set_question_tag(session, ticket_id=ticket_id, question_tag_id=question_tag_id)


@retried_on_conflict
async def set_automatic_question_tag(sessions: Sessions, *, ticket_id: int, question_tag_id: int) -> bool:
    """The model's choice: set and marked only when the open ticket has no question tag yet."""
    async with sessions.begin() as session:
        return await service.set_automatic_question_tag(
            session, ticket_id=ticket_id, question_tag_id=question_tag_id
        )
