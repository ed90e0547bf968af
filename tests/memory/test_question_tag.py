"""Reading the model's question-tag answer strictly (nephthys/memory/question_tag.py)."""

from __future__ import annotations

import pytest

from nephthys.memory.question_tag import Choice, Label, NoChoice, chosen_label, parse_choice

LABELS = [Label(1, "Deadlines"), Label(2, "Project  rejected")]


def test_the_json_object_is_read():
    assert parse_choice('{"tag": "Deadlines", "confidence": 0.9}') == Choice("Deadlines", 0.9)
    assert parse_choice('```json\n{"tag": null, "confidence": 0}\n```') == Choice(None, 0.0)


@pytest.mark.parametrize(
    "answer",
    [
        "Deadlines",
        '{"tag": "Deadlines"}',
        '{"confidence": 0.9}',
        '{"tag": "Deadlines", "confidence": "high"}',
        '{"tag": "Deadlines", "confidence": true}',
        '{"tag": "Deadlines", "confidence": 1.5}',
        '{"tag": "Deadlines", "confidence": NaN}',
        '{"tag": 3, "confidence": 0.9}',
        '[{"tag": "Deadlines", "confidence": 0.9}]',
        'Sure! {"tag": "Deadlines", "confidence": 0.9}',
    ],
)
def test_anything_else_is_no_choice(answer):
    with pytest.raises(NoChoice):
        parse_choice(answer)


def test_only_an_offered_label_at_the_threshold_or_above_is_chosen():
    assert chosen_label(Choice("deadlines ", 0.8), LABELS, min_confidence=0.8) == LABELS[0]
    assert chosen_label(Choice("project rejected", 0.95), LABELS, min_confidence=0.8) == LABELS[1]
    assert chosen_label(Choice("Deadlines", 0.79), LABELS, min_confidence=0.8) is None
    assert chosen_label(Choice("Deadline extensions", 1.0), LABELS, min_confidence=0.8) is None
    assert chosen_label(Choice(None, 1.0), LABELS, min_confidence=0.8) is None
