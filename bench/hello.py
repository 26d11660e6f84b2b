"""The peer of the web figures: Litestar's hello world returning a msgspec Struct."""

from __future__ import annotations

import msgspec
from litestar import Litestar, get


class Hello(msgspec.Struct):
    message: str


@get("/hello", sync_to_thread=False)
def hello() -> Hello:
    return Hello(message="你好")


def asgi_app() -> Litestar:
    return Litestar(route_handlers=[hello], debug=False)
