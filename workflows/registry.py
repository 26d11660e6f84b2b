"""REGISTRY: the one list an engineer edits to add a process."""

from __future__ import annotations

from workflows import permission_grant
from workflows import merchant_onboarding, price_change, product_listing
from workflows import account_ban, promotion, risk_review, risk_rule_change
from workflows import dispute, fund_operation
from workflows import admin_appointment
from workflows.spec import WorkflowSpec

REGISTRY: tuple[WorkflowSpec, ...] = (
    permission_grant.SPEC,
    merchant_onboarding.SPEC,
    product_listing.SPEC,
    price_change.SPEC,
    account_ban.SPEC,
    promotion.SPEC,
    risk_review.SPEC,
    risk_rule_change.SPEC,
    fund_operation.SPEC,
    dispute.SPEC,
    admin_appointment.SPEC,
)

BY_KIND: dict[str, WorkflowSpec] = {spec.kind: spec for spec in REGISTRY}
