from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T07:37:17:000000"
VERSION = "1.38.0"
DESCRIPTION = "auth_version's one row, and the triggers that move it with admins, sessions and grants"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="kameng", description=DESCRIPTION
    )

    async def row_and_triggers() -> None:
        from piccolo.engine.finder import engine_finder

        engine = engine_finder()
        await engine.run_ddl("INSERT INTO auth_version (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM auth_version)")
        for ddl in POSTGRES if engine.engine_type == "postgres" else SQLITE:
            await engine.run_ddl(ddl)

    manager.add_raw(row_and_triggers)

    return manager


# What changes who an admin is to the policy, or whether a session is live: an admin updated
# or deleted (status, tier, regions, password), a session updated or deleted (signed out,
# ended, expiry moved), a grant written in any way. A new session or a new admin changes no
# one's cached answer, so inserts there do not bump it.
WATCHED = (
    ("admin", ("UPDATE", "DELETE")),
    ("admin_session", ("UPDATE", "DELETE")),
    ("permission_grant", ("INSERT", "UPDATE", "DELETE")),
)

SQLITE = tuple(
    f"CREATE TRIGGER IF NOT EXISTS auth_version_{table}_{event.lower()} AFTER {event} ON {table} "
    "BEGIN UPDATE auth_version SET version = version + 1; END"
    for table, events in WATCHED
    for event in events
)

POSTGRES = (
    "CREATE OR REPLACE FUNCTION auth_version_bump() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN UPDATE auth_version SET version = version + 1; RETURN NULL; END $$",
    *(
        ddl
        for table, events in WATCHED
        for ddl in (
            f"DROP TRIGGER IF EXISTS auth_version_{table} ON {table}",
            f"CREATE TRIGGER auth_version_{table} AFTER {' OR '.join(events)} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION auth_version_bump()",
        )
    ),
)
