"""The ticket lifecycle: every state change of a ticket, one transaction each (see lifecycle.py)."""
