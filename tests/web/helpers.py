"""Driving the console from the tests: sign in, wait for pages, take screenshots."""

from __future__ import annotations

from pathlib import Path

PASSWORD = "kameng-demo"


async def sign_in(page, base: str, username: str, password: str = PASSWORD) -> None:
    await page.goto(base + "/")
    await page.wait_for_selector("#sign-in")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("#sign-in button[type=submit]")


async def console_as(browser, base: str, username: str, path: str = "/"):
    """A fresh browser context signed in as ``username``, on ``path``."""
    page = await browser.new_page()
    await sign_in(page, base, username)
    await page.wait_for_selector("header #who")
    if path != "/":
        await page.goto(base + path)
        await page.wait_for_selector("header #who")
    return page


async def nav(page, name: str) -> None:
    """Client-side navigation through the menu (the websocket stays open)."""
    await page.click(f"[data-nav={name}]")
    await page.wait_for_selector(f"#page-{'inbox' if name == 'inbox' else name}")


async def shot(page, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


INTAKE = {"Authorization": "Bearer kameng-intake-dev"}


def merchant_application(code: str, *, region: str = "game-cards", category: str = "point_card", complete: bool = True) -> dict:
    documents = {
        "point_card": ["business_license", "legal_person_id", "card_issuer_authorization"],
        "game_account": ["business_license", "legal_person_id", "account_source_statement"],
        "topup": ["business_license", "legal_person_id", "carrier_agency_agreement"],
        "game_item": ["business_license", "legal_person_id", "game_operator_authorization"],
    }[category]
    if not complete:
        documents = documents[:1]
    return {
        "code": code, "name": f"测试商家{code}", "region": region, "category": category,
        "identity_number": f"9133{code}0000000", "contact_phone": "13812345678",
        "documents": [{"kind": kind, "ref": f"docs/{code}/{kind}.pdf"} for kind in documents],
    }


async def intake(page, base: str, path: str, body: dict) -> str:
    """What the platform reports in with its service token; returns the process id."""
    response = await page.request.post(f"{base}/api/intake/{path}", data=body, headers=INTAKE)
    assert response.status == 201, await response.text()
    return (await response.json())["process_id"]


async def task_row(page, process_id: str, timeout: float = 15_000):
    """The inbox row of a process's open task, once the live update has brought it."""
    return await page.wait_for_selector(f"tr[data-task^='{process_id}:']", timeout=timeout)


async def act_in_ui(page, process_id: str, action: str, fields: dict[str, str] | None = None, *, claim: bool = True):
    """From the inbox: claim the process's task, open it, choose the action, fill, submit; returns the result text."""
    row = await task_row(page, process_id)
    task_id = await row.get_attribute("data-task")
    if claim:
        await page.click(f"[data-claim='{task_id}']")
        await page.click("[data-tab=mine]")
        await page.wait_for_selector(f"tr[data-task='{task_id}']")
    await page.click(f"[data-open='{task_id}']")
    await page.wait_for_selector(f"#page-task [data-task='{task_id}']")
    await page.click(f"[data-action={action}]")
    form = f"#act-{action}"
    await page.wait_for_selector(form)
    for name, value in (fields or {}).items():
        await page.fill(f"{form} [name={name}]", value)
    await page.click(f"[data-submit=act-{action}]")
    result = await page.wait_for_selector("#task-result", timeout=30_000)
    return task_id, await result.inner_text()
