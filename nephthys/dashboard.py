"""The dashboard page at ``/`` and its static files under ``/static/`` (docs/dashboard.md).

The page is a static client of the public API: it holds no figures of its own
and no secret, so it is served without the API's key. Files are compressed
(GZipMiddleware) and cached by what they are:

- the page and its own script and stylesheet change with each release under the
  same names: ``no-cache``, so a browser revalidates them (ETag, a cheap 304);
- vendored libraries sit under a directory named with their version
  (``vendor/uplot-1.6.32/``): their bytes never change, so they are cached for a year.

Compression is applied here and not to the whole app, so the JSON export's
streaming speed is left as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

STATIC_DIRECTORY = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"
INDEX = "index.html"

REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
# The page may load and fetch from this service only: a second guard, in the browser, on "nothing from outside".
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


class DashboardFiles(StaticFiles):
    """The package's static files, each with the Cache-Control its kind of file calls for."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        relative = Path(full_path).relative_to(STATIC_DIRECTORY.resolve())
        response.headers["cache-control"] = IMMUTABLE if relative.parts[0] == "vendor" else REVALIDATE
        if relative.suffix == ".html":
            response.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
        return response


class DashboardPage:
    """``/``: the page's index.html, answered (with 304s) by the same static files app."""

    def __init__(self, files: StaticFiles) -> None:
        self.files = files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.files({**scope, "path": f"/{INDEX}", "root_path": ""}, receive, send)


def dashboard_routes() -> list[BaseRoute]:
    files = DashboardFiles(directory=STATIC_DIRECTORY.resolve())
    return [
        Route("/", GZipMiddleware(DashboardPage(files)), methods=["GET", "HEAD"]),
        Mount(STATIC_PREFIX, GZipMiddleware(files), name="static"),
    ]
