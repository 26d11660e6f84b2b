"""Merchants under onboarding (审核商家资质): the pending row, the automatic checks and the outcome.

The checks are deterministic and explainable: every point of the risk score comes with a
sentence saying where it came from, shown to the verifying admin as evidence.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from temporalio import activity

from infra.db.tables import Merchant

HIGH_RISK_CATEGORIES = frozenset({"game_account"})
HIGH_RISK_SCORE = 0.6
"""At or above this score a merchant also needs the regional admin's approval."""

DOCUMENT_NAMES: dict[str, str] = {
    "business_license": "营业执照",
    "legal_person_id": "法人身份证",
    "card_issuer_authorization": "点卡发行方授权书",
    "carrier_agency_agreement": "运营商代理协议",
    "game_operator_authorization": "游戏运营方授权书",
    "account_source_statement": "账号来源说明",
}
BASE_DOCUMENTS = ("business_license", "legal_person_id")
REQUIRED_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "point_card": (*BASE_DOCUMENTS, "card_issuer_authorization"),
    "topup": (*BASE_DOCUMENTS, "carrier_agency_agreement"),
    "game_item": (*BASE_DOCUMENTS, "game_operator_authorization"),
    "game_account": (*BASE_DOCUMENTS, "account_source_statement"),
}
CATEGORY_RISK: dict[str, float] = {"point_card": 0.1, "topup": 0.1, "game_item": 0.3, "game_account": 0.55}
CATEGORY_NAMES = {"point_card": "点卡", "topup": "话费充值", "game_item": "游戏道具", "game_account": "游戏账号"}
DUPLICATE_IDENTITY_RISK = 0.5
MISSING_DOCUMENT_RISK = 0.1
MAX_MISSING_RISK = 0.3


class MerchantDocument(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    """One of DOCUMENT_NAMES: ``business_license``, ``legal_person_id``, ..."""
    ref: str
    """Where the platform stored the file."""


class MerchantRecord(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    region: str
    category: str
    identity_number: str
    contact_phone: str
    documents: tuple[MerchantDocument, ...] = ()
    process_id: str
    at: datetime


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    """``pending`` when this process owns the application; else the existing merchant's status."""
    process_id: str


class MerchantChecks(msgspec.Struct, frozen=True, kw_only=True):
    complete: bool
    missing: tuple[str, ...]
    duplicates: tuple[str, ...]
    """Codes of other merchants with the same identity number."""
    risk_score: float
    explanation: tuple[str, ...]
    documents: tuple[str, ...]
    """The document kinds on file."""


class DocumentsUpdate(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    documents: tuple[MerchantDocument, ...]


class MerchantOutcome(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    status: str
    """``active``, ``rejected`` or ``abandoned``."""
    process_id: str
    at: datetime


def assess(category: str, documents: list[str], duplicates: list[str]) -> MerchantChecks:
    """The automatic checks as a pure function: completeness, duplicate identity, risk score."""
    required = REQUIRED_DOCUMENTS.get(category, BASE_DOCUMENTS)
    missing = tuple(kind for kind in required if kind not in documents)
    base = CATEGORY_RISK.get(category, 0.3)
    score = base
    lines = [f"类目「{CATEGORY_NAMES.get(category, category)}」基础风险 {base:.2f}"]
    if duplicates:
        score += DUPLICATE_IDENTITY_RISK
        lines.append(f"证件号与已有商家 {', '.join(duplicates)} 重复 +{DUPLICATE_IDENTITY_RISK:.2f}")
    else:
        lines.append("证件号未与其他商家重复 +0.00")
    if missing:
        extra = min(MISSING_DOCUMENT_RISK * len(missing), MAX_MISSING_RISK)
        score += extra
        names = "、".join(DOCUMENT_NAMES.get(k, k) for k in missing)
        lines.append(f"缺少 {len(missing)} 份必需材料（{names}）+{extra:.2f}")
    else:
        lines.append("必需材料齐全 +0.00")
    score = round(min(max(score, 0.0), 1.0), 2)
    high = category in HIGH_RISK_CATEGORIES or score >= HIGH_RISK_SCORE
    lines.append(f"风险分 {score:.2f}（阈值 {HIGH_RISK_SCORE:.2f}）：" + ("高风险，需区域管理员复核" if high else "普通风险"))
    return MerchantChecks(
        complete=not missing, missing=missing, duplicates=tuple(duplicates), risk_score=score,
        explanation=tuple(lines), documents=tuple(documents),
    )


def _merge(existing: list[dict], added: tuple[MerchantDocument, ...]) -> list[dict]:
    """Documents by kind: a newly submitted one replaces the older of its kind."""
    by_kind = {d["kind"]: d for d in existing or []}
    for document in added:
        by_kind[document.kind] = msgspec.to_builtins(document)
    return list(by_kind.values())


class MerchantActivities:
    @activity.defn(name="record_merchant")
    async def record_merchant(self, record: MerchantRecord) -> Recorded:
        """The merchant as ``pending``, once; an existing merchant's row is left as it is."""
        await Merchant.insert(
            Merchant(
                code=record.code, name=record.name, region=record.region, category=record.category,
                identity_number=record.identity_number, contact_phone=record.contact_phone,
                documents=msgspec.to_builtins(record.documents), process_id=record.process_id,
                status="pending", risk_score=0.0, joined_at=record.at,
            )
        ).on_conflict(action="DO NOTHING")
        row = await Merchant.select(Merchant.status, Merchant.process_id).where(Merchant.code == record.code).first()
        if row["process_id"] != record.process_id:
            return Recorded(status=row["status"] if row["status"] != "pending" else "in_review", process_id=row["process_id"])
        return Recorded(status=row["status"], process_id=row["process_id"])

    @activity.defn(name="check_merchant")
    async def check_merchant(self, code: str) -> MerchantChecks:
        row = await Merchant.select().where(Merchant.code == code).output(load_json=True).first()
        if row is None:
            raise ValueError(f"no merchant {code!r}")
        others = await Merchant.select(Merchant.code).where(
            (Merchant.identity_number == row["identity_number"]) & (Merchant.code != code)
        ).order_by(Merchant.code)
        documents = [d["kind"] for d in row["documents"] or []]
        checks = assess(row["category"], documents, [o["code"] for o in others])
        await Merchant.update({Merchant.risk_score: checks.risk_score}).where(Merchant.code == code)
        return checks

    @activity.defn(name="add_merchant_documents")
    async def add_merchant_documents(self, update: DocumentsUpdate) -> None:
        row = await Merchant.select(Merchant.documents).where(Merchant.code == update.code).output(load_json=True).first()
        if row is None:
            raise ValueError(f"no merchant {update.code!r}")
        await Merchant.update({Merchant.documents: _merge(row["documents"], update.documents)}).where(
            (Merchant.code == update.code) & (Merchant.status == "pending")
        )

    @activity.defn(name="settle_merchant")
    async def settle_merchant(self, outcome: MerchantOutcome) -> None:
        """Only the pending application of this process changes: a retry changes nothing more."""
        values: dict = {Merchant.status: outcome.status}
        if outcome.status == "active":
            values[Merchant.joined_at] = outcome.at
        await Merchant.update(values).where(
            (Merchant.code == outcome.code) & (Merchant.status == "pending") & (Merchant.process_id == outcome.process_id)
        )
