"""Platform intake with service tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from infra.db.tables import Merchant, Order
from tests.api.conftest import bearer, login

pytestmark = [pytest.mark.db, pytest.mark.timeout(60)]
SERVICE = bearer("kameng-intake-dev")


def application(code: str) -> dict:
    return {
        "code": code, "name": "杭州星辰点卡专营店", "region": "game-cards", "category": "point_card",
        "identity_number": f"9133{uuid.uuid4().int % 10**14:014d}", "contact_phone": "13812345678",
        "documents": [
            {"kind": "business_license", "ref": f"docs/{code}/license.pdf"},
            {"kind": "legal_person_id", "ref": f"docs/{code}/id.jpg"},
            {"kind": "card_issuer_authorization", "ref": f"docs/{code}/issuer.pdf"},
        ],
    }


async def test_tokens_stay_on_their_side(api):
    admin = await login(api, "super-2")
    refused = await api.post("/api/intake/merchant-applications", json=application("MX001"), headers=bearer(admin))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "service_token_required"
    assert (await api.get("/api/me", headers=SERVICE)).json()["error"]["code"] == "service_token"
    assert (await api.post("/api/intake/order-events", json=[], headers=bearer("not-a-token"))).status_code == 401


async def test_merchant_application_starts_onboarding_once(api):
    code = f"MI{uuid.uuid4().hex[:6].upper()}"
    headers = {**SERVICE, "Idempotency-Key": f"apply-{code}"}
    first = await api.post("/api/intake/merchant-applications", json=application(code), headers=headers)
    again = await api.post("/api/intake/merchant-applications", json=application(code), headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json() == again.json() == {"process_id": f"merchant-onboarding-{code}", "kind": "merchant-onboarding"}
    duplicate = await api.post("/api/intake/merchant-applications", json=application(code), headers=SERVICE)
    assert duplicate.status_code == 409
    for _ in range(100):
        if await Merchant.exists().where(Merchant.code == code):
            break
        import asyncio

        await asyncio.sleep(0.05)
    assert await Merchant.exists().where(Merchant.code == code)


async def test_order_events_are_stored_once_and_bad_rows_named(api):
    order = await Order.select(Order.buyer.code, Order.merchant.code, Order.product.sku).first()
    code = f"OI{uuid.uuid4().hex[:8]}"
    event = {
        "code": code, "buyer": order["buyer.code"], "merchant": order["merchant.code"], "product": order["product.sku"],
        "quantity": 1, "amount": 1000, "at": datetime.now(UTC).isoformat(),
    }
    bad = {**event, "code": "OI-bad", "buyer": "NOBODY"}
    response = await api.post("/api/intake/order-events", json=[event, bad], headers=SERVICE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 1 and body["rejected"] == [{"index": 1, "code": "OI-bad", "reason": "unknown buyer"}]
    again = await api.post("/api/intake/order-events", json=[{**event, "status": "refunded"}], headers=SERVICE)
    assert again.json()["accepted"] == 1
    rows = await Order.select(Order.status).where(Order.code == code)
    assert rows == [{"status": "refunded"}]


@pytest.mark.parametrize("body", [{}, [{"code": 1}], "x", [None]])
async def test_malformed_intake_is_4xx(api, body):
    response = await api.post("/api/intake/order-events", json=body, headers=SERVICE)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


async def test_platform_events_reach_only_a_process_waiting_for_them(api):
    missing = await api.post("/api/intake/processes/merchant-onboarding/merchant-onboarding-NOPE/events/documents_submitted",
                             json={"documents": [{"kind": "business_license", "ref": "docs/x.pdf"}]}, headers=SERVICE)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    code = f"ME{uuid.uuid4().hex[:6].upper()}"
    pid = (await api.post("/api/intake/merchant-applications", json=application(code), headers=SERVICE)).json()["process_id"]
    import asyncio

    for _ in range(100):  # the application is at verification, not waiting for documents
        early = await api.post(f"/api/intake/processes/merchant-onboarding/{pid}/events/documents_submitted", json={"documents": [{"kind": "business_license", "ref": "docs/x.pdf"}]}, headers=SERVICE)
        if early.status_code != 404:
            break
        await asyncio.sleep(0.05)
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_expected", early.text
