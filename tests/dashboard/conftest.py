"""A real Chromium (Debian's package) driven by Playwright, for the dashboard's browser tests.

./scripts/test installs Debian's ``chromium`` when it is missing and the script runs as
root; where it could not, these tests are skipped with the reason (pytest -rs shows it),
never silently.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

# Playwright's own browser downloads are not used (nothing is fetched outside the package registries).
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    configured = os.environ.get("NEPHTHYS_TEST_CHROMIUM")
    for candidate in (configured, *CHROMIUM_CANDIDATES):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    try:
        import playwright  # noqa: F401
    except ImportError as error:
        pytest.skip(f"the dashboard's browser tests need Playwright (pip install -e '.[dev]'): {error}")
    found = chromium_path()
    if found is None:
        pytest.skip(
            "the dashboard's browser tests need Debian's chromium, which is not installed "
            "(./scripts/test installs it with apt-get when run as root; .nephthys/chromium-install.log says why it could not)"
        )
    return found


@pytest.fixture
async def browser(chromium_executable: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()
