"""Forms derived from msgspec structs: fields, coercion, msgspec's messages made readable."""

from __future__ import annotations

from workflows.fund_operation import FundOperationInput
from workflows.permission_grant import RequestGrantInput
from workflows.promotion import ScoreInput
from web.forms import coerce, fields_of, readable_validation, validate


def test_fields_follow_the_struct():
    fields = {f.name: f for f in fields_of(RequestGrantInput, "zh", skip=("starts_at",))}
    assert list(fields) == ["permission", "scope", "regions", "duration", "justification"]
    assert fields["permission"].required and fields["duration"].required and fields["justification"].required
    assert not fields["scope"].required and fields["scope"].widget == "select" and fields["scope"].default == "region"
    assert fields["regions"].widget == "multi"
    assert fields["justification"].widget == "textarea" and fields["justification"].min_length == 4
    assert ("P3D", "3 天") in fields["duration"].choices


def test_money_is_entered_in_yuan_and_sent_in_cents():
    fields = fields_of(FundOperationInput, "zh", skip=("dispute_code",))
    body, problems = coerce(fields, {"operation": "withdrawal", "account": "platform", "amount": "12,800.50", "reason": "季度提现"}, "zh")
    assert problems == {} and body["amount"] == 1_280_050
    _, problems = coerce(fields, {"operation": "withdrawal", "account": "platform", "amount": "1.005", "reason": "季度提现"}, "zh")
    assert "amount" in problems


def test_required_fields_and_limits_read_as_words():
    fields = fields_of(ScoreInput, "zh")
    _, problems = coerce(fields, {"score": ""}, "zh")
    assert problems == {"score": "必填"}
    decoded, problems, general = validate(ScoreInput, {"score": 140}, "zh")
    assert decoded is None and problems == {"score": "不能大于 100"} and general is None
    decoded, problems, _ = validate(ScoreInput, {"score": 82, "notes": "分类准确"}, "zh")
    assert decoded.score == 82 and problems == {}
    assert readable_validation("Expected `str` of length >= 4 - at `$.justification`", "en") == ("justification", "at least 4 characters")
    assert readable_validation("Object missing required field `duration`", "zh") == ("duration", "必填")
