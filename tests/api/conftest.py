"""Fixtures for the API tests: the Slack side's ``desk`` too (tests/api/test_stalled_clients.py)."""

from tests.slack.conftest import desk, fake, team  # noqa: F401  (fixtures)
