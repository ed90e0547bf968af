"""An answer drafted by the operator's OpenAI-compatible endpoint (AI_BASE_URL, AI_MODEL,
HACK_CLUB_AI_API_KEY), grounded only in the helper answers of the similar past tickets.

Nothing is sent anywhere unless the endpoint is configured. The model sees the new question and
the past tickets' questions and answers, numbered; it is told to answer only from them and to
cite them as [1], [2]…, which the Slack side turns into links. Bounded: each past answer is sent
up to ``PAST_ANSWER_CHARS`` characters, the question up to ``QUESTION_CHARS``, and the draft is
kept to ``DRAFT_CHARS``; the call to ``AI_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import logging

from nephthys.config import Settings
from nephthys.memory import ai
from nephthys.memory.similar import PastTicket

log = logging.getLogger(__name__)

QUESTION_CHARS = 2000
PAST_ANSWER_CHARS = 1000
DRAFT_CHARS = 1500

PROMPT = (
    "You help a help desk's helpers answer a new question. Use ONLY the past answers given below; "
    "do not add facts they do not state. Cite the past answers you use as [1], [2]… "
    "If they do not answer the question, say so in one sentence. Answer in the question's language, briefly."
)


class DraftFailed(Exception):
    """The endpoint did not answer in time or answered something unusable."""


def grounding(question: str, past: list[PastTicket]) -> str:
    parts = [f"New question:\n{question[:QUESTION_CHARS]}", "Past answers:"]
    for n, ticket in enumerate(past, 1):
        parts.append(f"[{n}] Question: {ticket.title}\nAnswer: {(ticket.answer or '')[:PAST_ANSWER_CHARS]}")
    return "\n\n".join(parts)


async def drafted_answer(settings: Settings, question: str, past: list[PastTicket]) -> str:
    """The draft; raises DraftFailed on a timeout, an error or an empty answer."""
    try:
        content = await ai.completion(settings, system=PROMPT, user=grounding(question, past), max_tokens=400)
    except ai.AIFailed as error:
        raise DraftFailed(str(error)) from None
    return content if len(content) <= DRAFT_CHARS else content[: DRAFT_CHARS - 1] + "…"
