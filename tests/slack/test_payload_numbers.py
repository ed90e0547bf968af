"""The one reader of numbers the app put into Slack payloads: ASCII digits within range, else None."""

import pytest

from nephthys.slack.messages import parse_closing_button_value
from nephthys.slack.payload_numbers import INT32_MAX, payload_id, payload_number
from nephthys.slack.tag_blocks import ticket_id_from_block_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12),
        ("007", 7),
        (str(INT32_MAX), INT32_MAX),
        (str(INT32_MAX + 1), None),
        ("9" * 5000, None),  # past Python's int-string limit too
        ("١٢", None),  # Arabic-Indic digits: int() reads 12
        ("１２", None),  # full-width digits: int() reads 12
        ("²", None),  # isdigit() says yes, int() raises
        ("0", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1_000", None),
        ("", None),
        (12, None),
        (None, None),
    ],
)
def test_payload_id(value, expected):
    assert payload_id(value) == expected


def test_a_page_number_may_be_zero_and_is_bounded():
    assert payload_number("0", maximum=999_999) == 0
    assert payload_number("1000000", maximum=999_999) is None


def test_block_ids_and_closing_values_use_the_same_reader():
    assert ticket_id_from_block_id("ticket_tags:12") == 12
    assert ticket_id_from_block_id("ticket_tags:١٢") is None
    assert ticket_id_from_block_id("ticket_tags:4294967296") is None
    assert parse_closing_button_value("12:1767225600000") == (12, 1767225600000)
    assert parse_closing_button_value("١٢:1767225600000") is None
    assert parse_closing_button_value("12:") is None
    assert parse_closing_button_value("4294967296:1") is None
