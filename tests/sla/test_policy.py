"""SLA policies: the settings, a tag's targets, and the strictest-target rule (plain functions)."""

from __future__ import annotations

import pytest

from nephthys.config import Settings
from nephthys.sla.policy import SlaPolicy, SlaTargets, TargetError, parse_target, strictest


def test_the_default_policy_comes_from_the_settings_and_sets_no_target_unless_asked():
    assert Settings.from_env({}, dotenv_path=None).sla_policy == SlaPolicy(SlaTargets(), 0.75)
    settings = Settings.from_env(
        {
            "SLA_FIRST_RESPONSE_MINUTES": "30",
            "SLA_NEXT_RESPONSE_MINUTES": "",
            "SLA_RESOLUTION_MINUTES": "480",
            "SLA_WARN_AT": "0.5",
        },
        dotenv_path=None,
    )
    assert settings.sla_policy == SlaPolicy(SlaTargets(30, None, 480), 0.5)
    assert settings.sla_policy.key != SlaPolicy(SlaTargets(30, None, 480), 0.75).key


def test_per_clock_the_strictest_tag_target_wins_and_the_default_fills_what_no_tag_sets():
    default = SlaTargets(60, 120, 960)
    assert strictest([], default) == default
    billing, auth = SlaTargets(30, None, 480), SlaTargets(45, 90, None)
    assert strictest([billing], default) == SlaTargets(30, 120, 480)
    assert strictest([billing, auth], default) == SlaTargets(30, 90, 480)
    # A tag may be looser than the default: its own target still applies to that clock.
    assert strictest([SlaTargets(None, None, 2000)], default) == SlaTargets(60, 120, 2000)
    # A tag without targets changes nothing; without a default, a clock no tag sets has none.
    assert strictest([SlaTargets()], SlaTargets()) == SlaTargets()
    assert strictest([auth], SlaTargets()) == SlaTargets(45, 90, None)


def test_a_target_is_whole_support_minutes_within_a_year():
    assert parse_target("30") == 30 and parse_target(" 525600 ") == 525600
    assert parse_target(None) is None and parse_target("") is None
    for bad in ("0", "-5", "525601", "1.5", "soon"):
        with pytest.raises(TargetError):
            parse_target(bad)
    assert SlaTargets(30, None, 480).describe() == "first response 30, resolution 480"
    assert SlaTargets().describe() == "no targets"
