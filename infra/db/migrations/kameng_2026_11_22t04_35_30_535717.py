from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-22T04:35:30:535717"
VERSION = "1.38.0"
DESCRIPTION = "task_key: who else a task is for, as seekable keys"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="kameng", description=DESCRIPTION
    )

    manager.add_table(
        class_name="TaskKey", tablename="task_key", schema=None, columns=None
    )

    manager.add_column(
        table_class_name="TaskKey",
        tablename="task_key",
        column_name="task",
        db_column_name="task",
        column_class_name="Integer",
        column_class=Integer,
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

    manager.add_column(
        table_class_name="TaskKey",
        tablename="task_key",
        column_name="key",
        db_column_name="key",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 120,
            "default": "",
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
