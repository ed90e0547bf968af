"""A fake OpenAI-compatible endpoint (``POST /v1/chat/completions``) for tests and demos, as the
fake Slack stands in for Slack: it answers with ``reply``, slowly (until ``release`` is set), with
an error, or with no choice at all, and records every request it was sent."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class FakeAI:
    def __init__(self, reply: str = "A drafted answer.", *, behaviour: str = "good") -> None:
        self.reply = reply
        self.behaviour = behaviour  # "good", "slow", "error" or "garbage" (no choices)
        self.requests: list[dict] = []
        self.release = asyncio.Event()
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])

    async def _complete(self, request: Request) -> JSONResponse:
        self.requests.append(
            {"body": await request.json(), "authorization": request.headers.get("authorization")}
        )
        if self.behaviour == "slow":
            await self.release.wait()
        if self.behaviour == "error":
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=500)
        if self.behaviour == "garbage":
            return JSONResponse({"choices": []})
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": self.reply}}]})
