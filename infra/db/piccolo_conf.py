"""Piccolo's configuration module (``PICCOLO_CONF=infra.db.piccolo_conf``).

``DB`` is resolved lazily from the settings, so importing this module does no I/O.
"""

from piccolo.conf.apps import AppRegistry

APP_REGISTRY = AppRegistry(apps=["infra.db.piccolo_app"])


def __getattr__(name: str):
    if name == "DB":
        from infra.db.engine import get_engine

        return get_engine()
    raise AttributeError(name)
