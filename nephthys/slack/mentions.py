"""Quoting people safely: their broadcast and group mentions must not ping anyone again.

When the bot repeats what someone wrote (the backend message, summaries, the App Home),
Slack would treat ``<!channel>``, ``<!here>``, ``<!everyone>`` and ``<!subteam^S…>`` in the
quoted text as the bot's own mentions and notify a whole channel or user group. They are
rewritten as plain text that reads the same (``@channel``, ``@team-name``), with a zero-width
joiner after the ``@`` so that Slack does not link it either.
"""

from __future__ import annotations

import re

# Between "@" and the name: Slack does not link "@\u2060here", and it reads as "@here".
_NO_LINK = "\u2060"

_BROADCAST = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|@?([^>]*))?>")


def neutralise_mentions(text: str) -> str:
    """``text`` with every broadcast and user-group mention turned into inert plain text."""
    text = _BROADCAST.sub(lambda m: f"@{_NO_LINK}{m.group(1)}", text)
    return _SUBTEAM.sub(lambda m: f"@{_NO_LINK}{m.group(2) or 'group'}", text)
