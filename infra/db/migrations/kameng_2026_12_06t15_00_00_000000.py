from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "task.inbox_json: each task as the inbox answers it"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="kameng", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Task",
        tablename="task",
        column_name="inbox_json",
        db_column_name="inbox_json",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": None,
            "null": True,
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
