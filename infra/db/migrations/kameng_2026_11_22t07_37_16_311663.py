from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-22T07:37:16:311663"
VERSION = "1.38.0"
DESCRIPTION = "auth_version: the version the web processes' session caches compare"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="kameng", description=DESCRIPTION
    )

    manager.add_table(
        class_name="AuthVersion",
        tablename="auth_version",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="AuthVersion",
        tablename="auth_version",
        column_name="version",
        db_column_name="version",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
