"""Team tags and question tags: ``service`` (data access) and ``flows`` (with Slack)."""
