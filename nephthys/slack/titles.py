"""Ticket titles: a short one from an OpenAI-compatible endpoint when configured, else the question's first words.

A title never blocks or breaks ticket creation: the ticket is stored with the
first-words title, and the generated one replaces it only if it arrives within
``AI_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import asyncio
import logging
import re

import httpx

from nephthys.config import Settings

log = logging.getLogger(__name__)

TITLE_WORDS = 8
TITLE_MAX_CHARS = 80
_MENTION = re.compile(r"<[@#!][^>]*>")
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]+))?>")

PROMPT = (
    "Write a title of at most 8 words for this help-desk question. "
    "Answer with the title only, no quotes, no trailing punctuation."
)


def first_words_title(question: str) -> str:
    """The question's first words, as plain text; a placeholder when it has none (a file alone)."""
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), question)
    text = _MENTION.sub("", text)
    words = text.split()
    if not words:
        return "(no text)"
    title = " ".join(words[:TITLE_WORDS])
    if len(words) > TITLE_WORDS:
        title += "…"
    if len(title) > TITLE_MAX_CHARS:
        title = title[: TITLE_MAX_CHARS - 1].rstrip() + "…"
    return title


async def generated_title(
    settings: Settings, question: str, *, http: httpx.AsyncClient | None = None
) -> str | None:
    """A title from the configured endpoint, or None if it is off, slow, or fails."""
    base_url = settings.ai_base_url  # set whenever ai_enabled is
    if not settings.ai_enabled or base_url is None or not question.strip():
        return None
    url = base_url.rstrip("/") + "/chat/completions"
    body = {
        "model": settings.ai_model,
        "messages": [{"role": "system", "content": PROMPT}, {"role": "user", "content": question[:4000]}],
        "max_tokens": 30,
        "temperature": 0.2,
    }
    headers = {"Authorization": f"Bearer {settings.hack_club_ai_api_key}"}
    try:
        async with asyncio.timeout(settings.ai_timeout_seconds):
            if http is None:
                async with httpx.AsyncClient(timeout=settings.ai_timeout_seconds) as client:
                    response = await client.post(url, json=body, headers=headers)
            else:
                response = await http.post(
                    url, json=body, headers=headers, timeout=settings.ai_timeout_seconds
                )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
    except (TimeoutError, httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        log.warning("title generation failed, keeping the first words: %s", type(error).__name__)
        return None
    title = " ".join(str(content).strip().strip("\"'").split())
    if not title:
        return None
    return title if len(title) <= TITLE_MAX_CHARS else title[: TITLE_MAX_CHARS - 1].rstrip() + "…"
