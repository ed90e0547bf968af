"""Quoting people safely: their broadcast and group mentions must not ping anyone again.

When the bot repeats what someone wrote (the backend message, summaries, the App Home),
Slack would treat ``<!channel>``, ``<!here>``, ``<!everyone>`` and ``<!subteam^S…>`` (in any case,
with stray spaces) in the
quoted text as the bot's own mentions and notify a whole channel or user group. They are
rewritten as plain text that reads the same (``@channel``, ``@team-name``), with a zero-width
joiner after the ``@`` so that Slack does not link it either.
"""

from __future__ import annotations

import re

# Between "@" and the name: Slack does not link "@\u2060here", and it reads as "@here".
_NO_LINK = "\u2060"

# Matched in any case and with spaces around the parts (``<!CHANNEL>``, ``<!Here>``, ``<!channel >``,
# ``<!subteam^s0123>``): what Slack would still read as a mention is never worth the risk of
# reposting. ``group`` is the old name of ``channel``.
_BROADCAST = re.compile(r"<\s*!\s*(channel|here|everyone|group)\s*(?:\|[^>]*)?>", re.IGNORECASE)
_SUBTEAM = re.compile(r"<\s*!\s*subteam\s*\^\s*([A-Z0-9]+)\s*(?:\|\s*@?([^>]*))?>", re.IGNORECASE)


def neutralise_mentions(text: str) -> str:
    """``text`` with every broadcast and user-group mention turned into inert plain text."""
    text = _BROADCAST.sub(lambda m: f"@{_NO_LINK}{m.group(1).lower()}", text)
    return _SUBTEAM.sub(lambda m: f"@{_NO_LINK}{(m.group(2) or '').strip() or 'group'}", text)
