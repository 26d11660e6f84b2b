"""The audit trail's forensic indexes, and the database refusing to change or remove audit rows.

Hand-written (raw SQL only): composite indexes are beyond Piccolo's column options, and
triggers are engine-specific. ``append_only_sql`` and ``drop_append_only_sql`` are also how a
test that must tamper with the trail lifts the guard and puts it back.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-22T04:12:13:000000"
VERSION = "1.38.0"
DESCRIPTION = "Audit forensic indexes and append-only guards"

GUARDED = ("audit_event", "audit_seal")

INDEXES = (
    "CREATE INDEX IF NOT EXISTS audit_event_target_at ON audit_event (target, at)",
    "CREATE INDEX IF NOT EXISTS audit_event_actor_at ON audit_event (actor, at)",
    "CREATE INDEX IF NOT EXISTS audit_event_action_at ON audit_event (action, at)",
)


def append_only_sql(engine_type: str) -> list[str]:
    if engine_type == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for table in GUARDED
            for verb in ("update", "delete")
        ]
    statements = [
        "CREATE OR REPLACE FUNCTION kameng_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$"
    ]
    for table in GUARDED:
        statements += [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION kameng_append_only()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION kameng_append_only()",
        ]
    return statements


def drop_append_only_sql(engine_type: str) -> list[str]:
    if engine_type == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_{verb}" for table in GUARDED for verb in ("update", "delete")]
    return [
        f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}"
        for table in GUARDED
        for name in ("append_only", "no_truncate")
    ]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="kameng", description=DESCRIPTION)

    async def guard():
        engine = engine_finder()
        for statement in (*INDEXES, *append_only_sql(engine.engine_type)):
            await engine.run_ddl(statement)

    async def unguard():
        engine = engine_finder()
        for statement in drop_append_only_sql(engine.engine_type):
            await engine.run_ddl(statement)
        for statement in INDEXES:
            await engine.run_ddl("DROP INDEX IF EXISTS " + statement.split()[5])

    manager.add_raw(guard)
    manager.add_raw_backwards(unguard)
    return manager
