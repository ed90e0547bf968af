"""Test and demo helpers that ship with the package: a fake Slack Web API server."""

from nephthys.testing.fake_slack import FakeSlack, InjectedFailure, RecordedCall, next_ts

__all__ = ["FakeSlack", "InjectedFailure", "RecordedCall", "next_ts"]
