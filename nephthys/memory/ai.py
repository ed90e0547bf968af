"""One call to the operator's OpenAI-compatible endpoint (AI_BASE_URL, AI_MODEL,
HACK_CLUB_AI_API_KEY), bounded by AI_TIMEOUT_SECONDS: what the drafted answer and the question tag
share. Nothing is sent when the endpoint is not configured."""

from __future__ import annotations

import asyncio

import httpx

from nephthys.config import Settings


class AIFailed(Exception):
    """The endpoint is not configured, did not answer in time, or answered something unusable."""


async def completion(settings: Settings, *, system: str, user: str, max_tokens: int) -> str:
    """The model's answer to ``system`` + ``user``, stripped; raises AIFailed (never anything else
    of the call) on a timeout, an error or an empty answer."""
    if not settings.ai_enabled or settings.ai_base_url is None:
        raise AIFailed("no AI endpoint is configured")
    body = {
        "model": settings.ai_model,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "max_tokens": max_tokens,
        "temperature": 0.2,
    }
    headers = {"Authorization": f"Bearer {settings.hack_club_ai_api_key}"}
    url = settings.ai_base_url.rstrip("/") + "/chat/completions"
    try:
        async with asyncio.timeout(settings.ai_timeout_seconds):
            async with httpx.AsyncClient(timeout=settings.ai_timeout_seconds) as client:
                response = await client.post(url, json=body, headers=headers)
        response.raise_for_status()
        content = str(response.json()["choices"][0]["message"]["content"]).strip()
    except (TimeoutError, httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        raise AIFailed(type(error).__name__) from None
    if not content:
        raise AIFailed("an empty answer")
    return content
