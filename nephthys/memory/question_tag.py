"""A new ticket's question tag chosen by the operator's OpenAI-compatible endpoint, from the
existing question tags only (issue 22 §4).

The model is given the question and the existing labels and must answer with one JSON object and
nothing else: ``{"tag": "<one label exactly as listed>" or null, "confidence": <0 to 1>}``. Its
choice counts only when all of these hold; otherwise nothing is chosen:

- the answer is that object (a Markdown code fence around it is tolerated), with a number
  ``confidence`` from 0 to 1;
- ``confidence`` is at least AI_QUESTION_TAG_CONFIDENCE (0.8 by default);
- ``tag`` names one of the labels offered (compared ignoring case and spacing, as labels are
  unique): a tag the model made up, or one that is not offered, is never set.

Bounded: at most ``LABELS_OFFERED`` labels are offered (in label order: a desk with more has the rest never chosen) and the question's
first ``QUESTION_CHARS`` characters; the call to AI_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from nephthys.config import Settings
from nephthys.memory import ai

QUESTION_CHARS = 2000
LABELS_OFFERED = 200

PROMPT = (
    "You label help-desk questions. Choose the one label from the list that names what the question "
    "is about, only if one clearly fits. Never invent a label. Answer with one JSON object and nothing "
    'else: {"tag": "<a label exactly as listed>", "confidence": <a number from 0 to 1>}, or '
    '{"tag": null, "confidence": 0} when no label fits.'
)

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Label:
    id: int
    label: str


@dataclass(frozen=True)
class Choice:
    """What the model answered: the label it named (None: none) and its stated confidence."""

    tag: str | None
    confidence: float


class NoChoice(Exception):
    """The model's answer is not the JSON object asked for."""


_LABELS_SQL = text(
    """SELECT q.id, q.label
       FROM "QuestionTag" q
       ORDER BY q.label, q.id
       LIMIT :limit"""
)


async def offered_labels(session: AsyncSession) -> list[Label]:
    """The question tags offered to the model (by label, at most LABELS_OFFERED)."""
    rows = await session.execute(_LABELS_SQL, {"limit": LABELS_OFFERED})
    return [Label(id=row.id, label=row.label) for row in rows]


def prompt_for(question: str, labels: list[Label]) -> str:
    listed = "\n".join(f"- {label.label}" for label in labels)
    return f"Labels:\n{listed}\n\nQuestion:\n{question[:QUESTION_CHARS]}"


def parse_choice(content: str) -> Choice:
    """The model's answer read strictly; raises NoChoice when it is not the object asked for."""
    content = content.strip()
    fenced = _FENCE.match(content)
    if fenced:
        content = fenced.group(1)
    try:
        answer = json.loads(content)
    except ValueError:
        raise NoChoice("not JSON") from None
    if not isinstance(answer, dict) or "tag" not in answer or "confidence" not in answer:
        raise NoChoice("not the object asked for")
    tag, confidence = answer["tag"], answer["confidence"]
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise NoChoice("confidence is not a number")
    if not math.isfinite(confidence) or not 0 <= confidence <= 1:
        raise NoChoice("confidence is not from 0 to 1")
    if tag is not None and not isinstance(tag, str):
        raise NoChoice("tag is not a label")
    return Choice(tag=tag.strip() if tag is not None else None, confidence=float(confidence))


def _folded(label: str) -> str:
    return " ".join(label.split()).casefold()


def chosen_label(choice: Choice, labels: list[Label], *, min_confidence: float) -> Label | None:
    """The offered label the model chose confidently enough; None otherwise."""
    if choice.tag is None or choice.confidence < min_confidence:
        return None
    wanted = _folded(choice.tag)
    return next((label for label in labels if _folded(label.label) == wanted), None)


async def ask(settings: Settings, question: str, labels: list[Label]) -> Choice:
    """Ask the model; raises ai.AIFailed (no answer) or NoChoice (an answer not in the shape asked)."""
    content = await ai.completion(settings, system=PROMPT, user=prompt_for(question, labels), max_tokens=60)
    return parse_choice(content)
