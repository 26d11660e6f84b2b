"""A bench database: migrated, one signed-in regional admin, and N inbox tasks.

``python -m bench.webdata PATH N`` prints the admin's bearer token. Tasks spread over the four
tiers and the demo's four regions (one in five without a region); one in fifty names two
candidates, one in forty is assigned, every one needs a permission. The rows are copied in
SQL from one task written through Piccolo, so they are stored exactly as the product stores
them; a file that already holds N tasks is reused.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ADMIN = "bench-regional"
REGION = "east-china"


async def _prepare(n: int) -> str:
    from infra.accounts import hash_password, open_session
    from infra.db.engine import bind_tables, migrate
    from infra.db.tables import Admin, Task

    await migrate()
    bind_tables()
    now = datetime.now(UTC)
    admin = await Admin.select(Admin.id).where(Admin.username == ADMIN).first()
    if admin is None:
        [admin] = await Admin.insert(Admin(
            username=ADMIN, display_name="压测区域管理员", tier="regional", regions=[REGION],
            password_hash=hash_password("bench"), password_changed_at=now, created_at=now,
        ))
    if not await Task.exists().where(Task.task_id == "bench-template"):
        await Task.insert(Task(
            task_id="bench-template", kind="product-listing", process_id="product-listing-bench", step="review",
            title="商品上架审核", tier="regional", region=REGION, candidates=[], excluded=[], status="open",
            priority=0, due_at=now + timedelta(days=2), remind_at=now + timedelta(days=1),
            actions=[{"name": "approve", "permission": "products.approve_listing", "label_zh": "通过"},
                     {"name": "reject", "permission": "products.approve_listing", "label_zh": "驳回"}],
            evidence={"product": "P00001", "price": 1999}, created_at=now,
        ))
    return await open_session(admin["id"], "bench")


def _fill(path: Path, n: int) -> None:
    db = sqlite3.connect(path)
    have = db.execute("SELECT count(*) FROM task WHERE task_id LIKE 'bench-%'").fetchone()[0]
    if have >= n + 1:
        return
    with db:
        db.execute("DELETE FROM task_key WHERE task IN (SELECT id FROM task WHERE task_id LIKE 'bench-%' AND task_id != 'bench-template')")
        db.execute("DELETE FROM task WHERE task_id LIKE 'bench-%' AND task_id != 'bench-template'")
        cols = [r[1] for r in db.execute("PRAGMA table_info(task)") if r[1] != "id"]
        varied = {
            "task_id": "'bench-' || x",
            "process_id": "'product-listing-bench-' || x",
            "tier": "CASE x % 4 WHEN 0 THEN 'super' WHEN 1 THEN 'regional' WHEN 2 THEN 'normal' ELSE 'intern' END",
            "region": "CASE (x / 4) % 5 WHEN 0 THEN 'game-items' WHEN 1 THEN 'mobile-topup' WHEN 2 THEN 'game-cards' WHEN 3 THEN 'east-china' ELSE NULL END",
            "status": "CASE x % 5 WHEN 0 THEN 'done' WHEN 1 THEN 'claimed' ELSE 'open' END",
            "candidates": "CASE WHEN x % 50 = 0 THEN '[\"normal-' || (x % 997) || '\", \"intern-' || (x % 991) || '\"]' ELSE '[]' END",
            "assignee": "CASE WHEN x % 40 = 0 THEN 'admin-' || (x % 500) ELSE NULL END",
        }
        select = ", ".join(varied.get(c, c) for c in cols)
        db.execute(
            f"WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < ?) "
            f"INSERT INTO task ({', '.join(cols)}) SELECT {select} FROM seq, task WHERE task.task_id = 'bench-template'",
            (n,),
        )
        db.execute("INSERT OR IGNORE INTO task_key (task, key) SELECT id, 'p:products.approve_listing' FROM task WHERE task_id LIKE 'bench-%'")
        db.execute(
            "INSERT OR IGNORE INTO task_key (task, key) SELECT t.id, 'c:' || j.value FROM task t, json_each(t.candidates) j "
            "WHERE t.task_id LIKE 'bench-%' AND t.candidates != '[]'"
        )
    db.execute("ANALYZE")
    db.close()


def main() -> None:
    path, n = Path(sys.argv[1]), int(sys.argv[2])
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["KAMENG_DATABASE_URL"] = f"sqlite:///{path}"
    token = asyncio.run(_prepare(n))
    _fill(path, n)
    print(token)


if __name__ == "__main__":
    main()
