from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T08:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Inbox: the tier-and-region index covers excluded, so its branches read no task rows"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="kameng", description=DESCRIPTION
    )

    async def covering_index() -> None:
        from piccolo.engine.finder import engine_finder

        engine = engine_finder()
        for ddl in DDL:
            await engine.run_ddl(ddl)

    manager.add_raw(covering_index)

    return manager


# The inbox's tier branches (infra/db/inbox.py) seek (tier, region) and read ids newest first,
# each checking that the task does not exclude the admin: with excluded in the index that
# check needs no lookup of the task's row.
DDL = (
    "CREATE INDEX IF NOT EXISTS task_tier_region_id_excluded ON task (tier, region, id, excluded)",
    "DROP INDEX IF EXISTS task_tier_region_id",
)
