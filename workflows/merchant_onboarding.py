"""Merchant onboarding (审核商家资质, SPEC §5.1): application → automatic checks (completeness,
duplicate identity, an explained risk score) → a normal admin of the region verifies → high-risk
merchants also need the regional admin → active. "Request documents" sends the application back
to the merchant with a deadline; the merchant's silence closes it as abandoned.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.merchants import (
        DOCUMENT_NAMES,
        HIGH_RISK_CATEGORIES,
        HIGH_RISK_SCORE,
        DocumentsUpdate,
        MerchantChecks,
        MerchantDocument,
        MerchantOutcome,
        MerchantRecord,
        Recorded,
    )
    from workflows.domain.policy import Actor, Subject
    from workflows.domain.regions import DEFAULT_REGIONS, PRODUCT_CATEGORIES
    from workflows.process import Decided, Process, Start
    from workflows.spec import ActionSpec, WorkflowSpec

MAX_DOCUMENT_ROUNDS = 3
"""After this many requests for documents the verifier approves or rejects."""


class MerchantApplication(msgspec.Struct, frozen=True, kw_only=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{2,32}$", examples=["M0100"])]
    name: Annotated[str, msgspec.Meta(min_length=2, max_length=128)]
    region: Annotated[str, msgspec.Meta(examples=["game-cards"])]
    category: Annotated[str, msgspec.Meta(examples=["point_card"])]
    identity_number: Annotated[str, msgspec.Meta(min_length=6, max_length=64)]
    """Unified social credit code or ID number of the legal person."""
    contact_phone: Annotated[str, msgspec.Meta(min_length=5, max_length=32)]
    documents: tuple[MerchantDocument, ...] = ()


class VerifyInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class RejectInput(msgspec.Struct, frozen=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class RequestDocumentsInput(msgspec.Struct, frozen=True, kw_only=True):
    documents: tuple[str, ...] = ()
    """The document kinds wanted; empty means those the checks found missing."""
    reason: Annotated[str, msgspec.Meta(min_length=2, max_length=2000)]


class DocumentsSubmitted(msgspec.Struct, frozen=True, kw_only=True):
    """The merchant's answer, reported by the platform."""

    documents: Annotated[tuple[MerchantDocument, ...], msgspec.Meta(min_length=1)]
    note: str = ""


def onboarding_workflow_id(start: Start[MerchantApplication]) -> str:
    return f"merchant-onboarding-{start.body.code}"


@workflow.defn(name="MerchantOnboarding")
class MerchantOnboardingWorkflow(Process):
    KIND = "merchant-onboarding"
    PLATFORM_EVENTS = {"documents_submitted": DocumentsSubmitted}
    ACTIONS = (
        ActionSpec("approve", VerifyInput, "merchants.verify", "审核通过", "Approve", {"reason": "资质齐全，证照核验一致"}),
        ActionSpec("reject", RejectInput, "merchants.verify", "驳回", "Reject", {"reason": "营业执照与申请主体不符"}),
        ActionSpec(
            "request_documents", RequestDocumentsInput, "merchants.verify", "要求补充材料", "Request documents",
            {"documents": ["card_issuer_authorization"], "reason": "请补充点卡发行方授权书"},
        ),
        ActionSpec("approve_high_risk", VerifyInput, "merchants.approve_high_risk", "批准高风险商家", "Approve high-risk merchant", {"reason": "已电话核实账号来源"}),
        ActionSpec("reject_high_risk", RejectInput, "merchants.approve_high_risk", "驳回高风险商家", "Reject high-risk merchant", {"reason": "账号来源无法核实"}),
    )

    @workflow.run
    async def run(self, params: Start[MerchantApplication]) -> dict:
        if (refused := await self.admit(params)) is not None:
            return refused
        app = params.body
        self.app = app
        self.checks: MerchantChecks | None = None
        starter = params.by
        await self.start(starter, f"{app.name}（{app.code}）申请入驻 {app.region}/{app.category}", params.config, app.region)
        problem = check_application(app, starter)
        if problem is not None:
            return await self.finish("rejected", problem[1], code=problem[0])
        recorded = await self._call(
            Recorded, "record_merchant",
            MerchantRecord(
                code=app.code, name=app.name, region=app.region, category=app.category,
                identity_number=app.identity_number, contact_phone=app.contact_phone,
                documents=app.documents, process_id=self.process_id, at=workflow.now(),
            ),
        )
        if recorded.status != "pending":
            return await self.finish("rejected", f"商家编码 {app.code} 已存在（状态 {recorded.status}）", code="merchant_exists")
        parties = (starter.id,) if starter else ()
        subject = Subject(kind="merchant", id=app.code, region=app.region, requester=starter.id if starter else None, excluded=parties)
        rounds = 0
        while True:
            self.checks = await self._call(MerchantChecks, "check_merchant", app.code)
            await self.audit(
                "merchant-onboarding.checked", "high_risk" if self.high_risk else "normal_risk",
                reason="；".join(self.checks.explanation), target=f"merchant:{app.code}",
                after=msgspec.to_builtins(self.checks), key=f"checked-{rounds}",
            )
            decided = await self.human_step(
                "verify",
                title=f"商家资质审核：{app.name}（{app.code}）",
                tier="normal",
                actions=("approve", "reject", "request_documents") if rounds < MAX_DOCUMENT_ROUNDS else ("approve", "reject"),
                subject=subject,
                evidence=self._evidence(),
                excluded=parties,
            )
            if decided.action == "reject":
                return await self._settle("rejected", decided)
            if decided.action == "approve":
                break
            rounds += 1
            if not await self._await_documents(decided, rounds):
                return await self._settle("abandoned", None, f"商家未在期限内补充材料（第 {rounds} 次补充）")
        if self.high_risk:
            second = await self.human_step(
                "regional_approval",
                title=f"高风险商家复核：{app.name}（{app.code}）风险分 {self.checks.risk_score:.2f}",
                tier="regional",
                actions=("approve_high_risk", "reject_high_risk"),
                subject=subject,
                evidence={**self._evidence(), "verified_by": decided.actor.id, "verify_comment": decided.reason},
                excluded=(*parties, decided.actor.id),
            )
            if second.action != "approve_high_risk":
                return await self._settle("rejected", second)
            return await self._settle("active", second, verified_by=decided.actor.id)
        return await self._settle("active", decided)

    async def _call(self, kind: type, name: str, arg: object):
        """An activity whose result comes back typed."""
        return msgspec.convert(await self._activity(name, arg), kind)

    @property
    def high_risk(self) -> bool:
        return self.app.category in HIGH_RISK_CATEGORIES or (self.checks is not None and self.checks.risk_score >= HIGH_RISK_SCORE)

    def _evidence(self) -> dict:
        checks = self.checks
        assert checks is not None
        return {
            "merchant": self.app.code, "name": self.app.name, "region": self.app.region, "category": self.app.category,
            "identity_number": self.app.identity_number, "contact_phone": self.app.contact_phone,
            "documents": [DOCUMENT_NAMES.get(k, k) for k in checks.documents],
            "missing": [DOCUMENT_NAMES.get(k, k) for k in checks.missing],
            "duplicates": list(checks.duplicates), "risk_score": checks.risk_score,
            "high_risk": self.high_risk, "explanation": list(checks.explanation),
        }

    async def _await_documents(self, request: Decided, rounds: int) -> bool:
        """Wait for the merchant's documents until the deadline, reminding once before it."""
        asked = request.as_(RequestDocumentsInput)
        wanted = asked.documents or (self.checks.missing if self.checks else ())
        timing = self.timing("documents")
        due_at = workflow.now() + timing.due
        remind_at = due_at - timing.remind_before if timing.remind_before else None
        await self.audit(
            "merchant-onboarding.documents_requested", "waiting", actor=request.actor, reason=asked.reason,
            target=f"merchant:{self.app.code}", after={"documents": list(wanted), "due_at": due_at.isoformat()},
            key=f"documents-requested-{rounds}",
        )
        # No await between opening the door and waiting: an event's caller then waits for the next step.
        self._step = "documents"
        self.expect("documents_submitted")
        while True:
            wake = remind_at if remind_at is not None else due_at
            event = await self.next_event(wake - workflow.now())
            if event is not None:
                break
            if remind_at is None:
                self.unexpect("documents_submitted")
                return False
            remind_at = None
            await self.audit(
                "merchant-onboarding.documents_reminder", "reminded", target=f"merchant:{self.app.code}",
                reason=f"补充材料截止 {due_at.isoformat()}", key=f"documents-reminded-{rounds}",
            )
        self.unexpect("documents_submitted")
        submitted = event.as_(DocumentsSubmitted)
        await self._activity("add_merchant_documents", DocumentsUpdate(code=self.app.code, documents=submitted.documents))
        await self.audit(
            "merchant-onboarding.documents_submitted", "received", actor=event.actor, reason=submitted.note,
            target=f"merchant:{self.app.code}", after={"documents": [d.kind for d in submitted.documents]},
            key=f"documents-submitted-{rounds}",
        )
        self.handled(event)
        return True

    async def _settle(self, status: str, decided: Decided | None, reason: str = "", **extra: str) -> dict:
        await self._activity(
            "settle_merchant", MerchantOutcome(code=self.app.code, status=status, process_id=self.process_id, at=workflow.now())
        )
        result = {"merchant": self.app.code, "merchant_status": status, **extra}
        if decided is not None:
            result["decided_by"] = decided.actor.id
            reason = reason or decided.reason
        if self.checks is not None:
            result["risk_score"] = self.checks.risk_score
        return await self.finish("approved" if status == "active" else status, reason, **result)

    def check_action(self, task, actor, action, body):
        if action == "approve" and self.checks is not None and not self.checks.complete:
            missing = "、".join(DOCUMENT_NAMES.get(k, k) for k in self.checks.missing)
            return ("documents_incomplete", f"required documents are missing ({missing}): request them or reject")
        if isinstance(body, RequestDocumentsInput):
            unknown = [k for k in body.documents if k not in DOCUMENT_NAMES]
            if unknown:
                return ("invalid_body", f"unknown document kinds: {', '.join(unknown)}")
            if not body.documents and self.checks is not None and self.checks.complete:
                return ("invalid_body", "name the documents wanted: none is missing")
        return None


def check_application(app: MerchantApplication, actor: Actor | None = None) -> tuple[str, str] | None:
    """Why this application cannot even be filed, or None."""
    if app.region not in {r.key for r in DEFAULT_REGIONS}:
        return ("unknown_region", f"there is no region {app.region!r}")
    if app.category not in PRODUCT_CATEGORIES:
        return ("unknown_category", f"there is no category {app.category!r}")
    unknown = [d.kind for d in app.documents if d.kind not in DOCUMENT_NAMES]
    if unknown:
        return ("unknown_document", f"unknown document kinds: {', '.join(unknown)}")
    return None


SPEC = WorkflowSpec(
    kind="merchant-onboarding",
    workflow=MerchantOnboardingWorkflow,
    input=MerchantApplication,
    workflow_id=onboarding_workflow_id,
    start_permission="merchants.verify",
    title_zh="商家入驻审核",
    title_en="Merchant onboarding",
    description="A merchant applies with qualification documents; automatic checks, then a normal admin of the region verifies (high-risk merchants also need the regional admin).",
    validate_start=check_application,
    example={
        "code": "M0100", "name": "杭州星辰点卡专营店", "region": "game-cards", "category": "point_card",
        "identity_number": "913301001234567890", "contact_phone": "13812345678",
        "documents": [
            {"kind": "business_license", "ref": "docs/M0100/license.pdf"},
            {"kind": "legal_person_id", "ref": "docs/M0100/id.jpg"},
            {"kind": "card_issuer_authorization", "ref": "docs/M0100/issuer.pdf"},
        ],
    },
    platform_start=True,
)
