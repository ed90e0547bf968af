"""Scheduled jobs (see scheduler.py): safe with several instances through PostgreSQL advisory locks."""
