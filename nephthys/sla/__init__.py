"""SLA targets (issue 21): policies (``policy``), each ticket's clocks (``clocks``), their
installation at start-up (``install``). The watcher is nephthys/tasks/sla_watch.py."""
