"""Nephthys: a Slack help desk that turns questions into tickets."""

__version__ = "0.1.0"
