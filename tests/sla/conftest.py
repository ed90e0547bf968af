"""The SLA tests run against the same harness as the Slack tests: the app over HTTP,
a real PostgreSQL and the fake Slack."""

from tests.slack.conftest import desk, fake, team  # noqa: F401  (fixtures)
