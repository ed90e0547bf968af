"""A fake OpenAI-compatible endpoint (``POST /v1/chat/completions``) for tests and demos, as the
fake Slack stands in for Slack: it answers with ``reply`` (a text, or a function of the request's
body giving one: a test answers a title, a draft and a question tag differently), slowly (until
``release`` is set), with an error, or with no choice at all, and records every request it was sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class FakeAI:
    def __init__(
        self,
        reply: str | Callable[[dict], str] = "A drafted answer.",
        *,
        behaviour: str = "good",
        slow_when: Callable[[dict], bool] | None = None,
    ) -> None:
        self.reply = reply
        self.slow_when = slow_when  # "slow": only the requests it picks (all when None)
        self.behaviour = behaviour  # "good", "slow", "error" or "garbage" (no choices)
        self.requests: list[dict] = []
        self.release = asyncio.Event()
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])

    async def _complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append({"body": body, "authorization": request.headers.get("authorization")})
        if self.behaviour == "slow" and (self.slow_when is None or self.slow_when(body)):
            await self.release.wait()
        if self.behaviour == "error":
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=500)
        if self.behaviour == "garbage":
            return JSONResponse({"choices": []})
        content = self.reply(body) if callable(self.reply) else self.reply
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": content}}]})
