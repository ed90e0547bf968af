import pytest

from nephthys.slack.mentions import neutralise_mentions

NO_LINK = "\u2060"


@pytest.mark.parametrize(
    ("quoted", "expected"),
    [
        ("<!channel> help", f"@{NO_LINK}channel help"),
        ("hey <!here|here>!", f"hey @{NO_LINK}here!"),
        ("<!everyone>", f"@{NO_LINK}everyone"),
        ("ping <!subteam^S0123ABC|@support-team> pls", f"ping @{NO_LINK}support-team pls"),
        ("ping <!subteam^S0123ABC>", f"ping @{NO_LINK}group"),
        ("<@U123> and <#C123|general> stay", "<@U123> and <#C123|general> stay"),
        ("<!date^1392734382^{date}|Feb 18>", "<!date^1392734382^{date}|Feb 18>"),
        # Any case and stray spaces (issue 18 §4): Slack may still read these as mentions.
        ("<!CHANNEL> now", f"@{NO_LINK}channel now"),
        ("<!Here>", f"@{NO_LINK}here"),
        ("<!channel >", f"@{NO_LINK}channel"),
        ("< ! everyone | all >", f"@{NO_LINK}everyone"),
        ("<!group>", f"@{NO_LINK}group"),
        ("ping <!subteam^s0123abc>", f"ping @{NO_LINK}group"),
        ("ping <!SubTeam^S0123ABC|@Support >", f"ping @{NO_LINK}Support"),
    ],
)
def test_broadcast_and_group_mentions_become_plain_text(quoted: str, expected: str) -> None:
    assert neutralise_mentions(quoted) == expected
    assert "<!" not in neutralise_mentions(quoted) or quoted.startswith("<!date")
