"""Deadlines of human steps: configuration, not constants."""

from __future__ import annotations

from datetime import timedelta

import msgspec


class StepTiming(msgspec.Struct, frozen=True):
    due: timedelta
    """How long the step's tier has before the task escalates (or lapses)."""
    remind_before: timedelta | None = None
    """A reminder fires this long before the due time."""


HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

DEFAULT_TIMINGS: dict[str, StepTiming] = {
    "default": StepTiming(due=2 * DAY, remind_before=4 * HOUR),
    "merchant-onboarding.verify": StepTiming(due=2 * DAY, remind_before=4 * HOUR),
    "merchant-onboarding.regional_approval": StepTiming(due=2 * DAY, remind_before=4 * HOUR),
    "merchant-onboarding.documents": StepTiming(due=7 * DAY, remind_before=DAY),
    "product-listing.review": StepTiming(due=DAY, remind_before=2 * HOUR),
    "price-change.confirm": StepTiming(due=DAY, remind_before=2 * HOUR),
    "dispute.merchant_response": StepTiming(due=3 * DAY, remind_before=DAY),
    "dispute.mediate": StepTiming(due=2 * DAY, remind_before=4 * HOUR),
    "dispute.rule": StepTiming(due=2 * DAY, remind_before=4 * HOUR),
    "dispute.appeal": StepTiming(due=3 * DAY, remind_before=DAY),
    "dispute.appeal_window": StepTiming(due=7 * DAY),
    "account-ban.request": StepTiming(due=DAY, remind_before=2 * HOUR),
    "account-ban.approve": StepTiming(due=DAY, remind_before=2 * HOUR),
    "account-ban.appeal": StepTiming(due=3 * DAY, remind_before=DAY),
    "account-ban.appeal_window": StepTiming(due=14 * DAY),
    "promotion.assessment": StepTiming(due=30 * DAY),
    "promotion.review": StepTiming(due=5 * DAY, remind_before=DAY),
    "promotion.confirm": StepTiming(due=3 * DAY, remind_before=DAY),
    "permission-grant.approve": StepTiming(due=DAY, remind_before=4 * HOUR),
    "fund-operation.approve": StepTiming(due=DAY, remind_before=4 * HOUR),
    "risk-review.review": StepTiming(due=DAY, remind_before=4 * HOUR),
    "admin-appointment.approve": StepTiming(due=3 * DAY, remind_before=DAY),
}


def timing_for(kind: str, step: str, overrides: dict[str, StepTiming] | None = None) -> StepTiming:
    key = f"{kind}.{step}"
    for table in (overrides or {}, DEFAULT_TIMINGS):
        if key in table:
            return table[key]
    return (overrides or {}).get("default") or DEFAULT_TIMINGS["default"]
