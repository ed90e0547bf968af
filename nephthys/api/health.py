"""GET /health: is the service able to do its work?"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

HEALTH_CHECK_TIMEOUT_SECONDS = 2.0


async def database_reachable(request: Request) -> bool:
    # Its own one-connection pool (nephthys/database/engine.py): API clients holding every API
    # connection do not make the service look down, and probes never take one from them.
    state = request.app.state
    engine = getattr(state, "health_engine", None) or state.engine
    try:
        async with asyncio.timeout(HEALTH_CHECK_TIMEOUT_SECONDS):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not reachable" to a health probe
        return False
    return True


async def health(request: Request) -> JSONResponse:
    """200 when the database answers, 503 when it does not.

    ``slack`` says whether the Slack side is configured and started; the
    service is healthy without it (the API works on its own).
    """
    database = await database_reachable(request)
    slack = getattr(request.app.state, "slack", None)
    body = {
        "healthy": database,
        "slack": bool(slack is not None and slack.healthy),
        "database": database,
    }
    return JSONResponse(body, status_code=200 if database else 503)
