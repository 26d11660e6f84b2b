"""The audit page: the chain's verification with its seals, the latest seal, the forensic
queries, and a tampered event named in the browser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.db.audit import append, seal
from infra.db.tables import AuditEvent, Buyer
from tests.audit_helpers import tampering
from tests.web.helpers import console_as, shot
from workflows.domain.messages import AuditRecord

pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.timeout(120)]


async def test_audit_page_verifies_seals_and_answers_forensic_queries(live_web, browser, artifacts):
    buyer = (await Buyer.select(Buyer.code, Buyer.region).where(Buyer.region == "game-items").first())["code"]
    await append(AuditRecord(actor="super-2", actor_tier="super", action="users.view_sensitive", target=f"buyer:{buyer}",
                             outcome="allowed", region="game-items", reason="sensitive fields read"))
    sealed = await seal()

    page = await console_as(browser, live_web, "station-master", "/audit")
    chain = await page.wait_for_selector("#chain[data-ok=true]")
    assert "封存签名有效" in await chain.inner_text()
    assert f"最近封存 #{sealed.id}" in await page.inner_text("#seal")

    await page.click("#forensics summary")
    await page.fill("#who-read [name=buyer]", buyer)
    await page.click("#who-read button[type=submit]")
    await page.wait_for_selector("#forensic-title[data-kind=who_read]")
    await page.wait_for_selector(f"#audit tr[data-seq]:has-text('buyer:{buyer}')")
    rows = await page.inner_text("#audit")
    assert "super-2" in rows and "station-master" not in rows
    await shot(page, artifacts, "audit-who-read")

    await page.fill("#actor-day [name=admin]", "super-2")
    await page.fill("#actor-day [name=day]", datetime.now(UTC).date().isoformat())
    await page.click("#actor-day button[type=submit]")
    await page.wait_for_selector("#forensic-title[data-kind=actor]")
    await page.wait_for_function(
        """() => { const cells = [...document.querySelectorAll('#audit tbody tr td:nth-child(3)')];
                   return cells.length > 0 && cells.every(c => c.textContent.startsWith('super-2')); }"""
    )
    actors = await page.eval_on_selector_all("#audit tbody tr td:nth-child(3)", "cells => cells.map(c => c.textContent)")
    assert actors and all(a.startswith("super-2") for a in actors), actors

    seq = await append(AuditRecord(actor="super-2", actor_tier="super", action="test.event", target="thing:web", outcome="allowed"))
    async with tampering(seq):
        await AuditEvent.update({AuditEvent.reason: "edited"}).where(AuditEvent.seq == seq)
        await page.click("#chain button")
        bad = await page.wait_for_selector("#chain[data-ok=false]")
        assert await bad.get_attribute("data-first-bad") == str(seq)
        assert f"第 {seq} 条" in await bad.inner_text()
        await shot(page, artifacts, "audit-tampered")
