from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T04:35:31:000000"
VERSION = "1.38.0"
DESCRIPTION = "Inbox visibility in SQL: composite indexes for keyset pages; task keys for existing tasks"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="kameng", description=DESCRIPTION
    )

    async def indexes_and_keys() -> None:
        from piccolo.engine.finder import engine_finder

        engine = engine_finder()
        for ddl in INDEXES:
            await engine.run_ddl(ddl)
        backfill = BACKFILL_POSTGRES if engine.engine_type == "postgres" else BACKFILL_SQLITE
        for ddl in backfill:
            await engine.run_ddl(ddl)

    manager.add_raw(indexes_and_keys)

    return manager


# Each branch of the inbox query seeks one of these and reads ids newest first.
INDEXES = (
    "CREATE INDEX IF NOT EXISTS task_tier_region_id ON task (tier, region, id)",
    "CREATE INDEX IF NOT EXISTS task_assignee_id ON task (assignee, id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS task_key_key_task ON task_key (key, task)",
    "CREATE INDEX IF NOT EXISTS task_key_task ON task_key (task)",
)

# Tasks written before this migration get their keys (candidates and action permissions).
BACKFILL_SQLITE = (
    "INSERT OR IGNORE INTO task_key (task, key) "
    "SELECT t.id, 'c:' || j.value FROM task t, json_each(t.candidates) j",
    "INSERT OR IGNORE INTO task_key (task, key) "
    "SELECT t.id, 'p:' || coalesce(json_extract(j.value, '$.permission'), '') "
    "FROM task t, json_each(t.actions) j WHERE json_type(j.value) = 'object'",
)
BACKFILL_POSTGRES = (
    "INSERT INTO task_key (task, key) "
    "SELECT DISTINCT t.id, 'c:' || c FROM task t, unnest(t.candidates) c ON CONFLICT DO NOTHING",
    "INSERT INTO task_key (task, key) "
    "SELECT DISTINCT t.id, 'p:' || coalesce(a->>'permission', '') "
    "FROM task t, json_array_elements(t.actions::json) a WHERE json_typeof(a) = 'object' "
    "ON CONFLICT DO NOTHING",
)
