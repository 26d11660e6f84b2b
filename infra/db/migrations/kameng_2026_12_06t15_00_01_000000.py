from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-06T15:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "task.inbox_json: the triggers that write it with every task, and the existing tasks filled"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="kameng", description=DESCRIPTION
    )

    async def triggers() -> None:
        from piccolo.engine.finder import engine_finder

        # The DDL drops and creates the triggers and refills the column, so running it again is
        # harmless: a change to TaskRead changes infra.db.inbox_json and adds a migration that
        # runs it again.
        from infra.db.inbox_json import postgres_ddl, sqlite_ddl

        engine = engine_finder()
        for ddl in postgres_ddl() if engine.engine_type == "postgres" else sqlite_ddl():
            await engine.run_ddl(ddl)

    manager.add_raw(triggers)

    return manager
