"""ReactPy served by Litestar itself: the page shell, the client's assets and the layout stream."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from litestar import Router, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.response import Response
from litestar.static_files import create_static_files_router
from reactpy import html
from reactpy.backend._common import CLIENT_BUILD_DIR, CommonOptions, read_client_index_html
from reactpy.backend.types import Connection, Location
from reactpy.core.hooks import ConnectionContext
from reactpy.core.layout import Layout
from reactpy.core.serve import serve_layout

from web.components import App

log = logging.getLogger("kameng.web")
STATIC_DIR = Path(__file__).parent / "static"

UI_PATHS = ["/"]
"""Pages the console answers; anything else stays a 404 rather than an empty shell."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'"
    ),
}


def _index_html() -> str:
    head = (
        html.meta({"name": "viewport", "content": "width=device-width, initial-scale=1"}),
        html.title("卡盟治理中心 · Kameng"),
        html.link({"rel": "stylesheet", "href": "/static/kameng.css"}),
        html.link({"rel": "icon", "href": "/_reactpy/assets/reactpy-logo.ico"}),
    )
    return read_client_index_html(CommonOptions(head=head)).replace('lang="en"', 'lang="zh-CN"')


_INDEX = _index_html()


@get(UI_PATHS, include_in_schema=False, cache=False)
async def page() -> Response[str]:
    return Response(_INDEX, media_type="text/html", headers=SECURITY_HEADERS)


async def _serve(socket: WebSocket, path: str) -> None:
    await socket.accept()

    async def send(value: Any) -> None:
        await socket.send_text(json.dumps(value))

    async def recv() -> Any:
        return json.loads(await socket.receive_text())

    search = socket.scope.get("query_string", b"").decode()
    connection = Connection(
        scope=socket.scope,
        location=Location("/" + path.lstrip("/"), f"?{search}" if search else ""),
        carrier=socket,
    )
    try:
        await serve_layout(Layout(ConnectionContext(App(), value=connection)), send, recv)
    except* WebSocketDisconnect:
        log.debug("console connection closed")


@websocket("/_reactpy/stream")
async def stream_root(socket: WebSocket) -> None:
    await _serve(socket, "")


@websocket("/_reactpy/stream/{path:path}")
async def stream(socket: WebSocket, path: str) -> None:
    await _serve(socket, path)


def ui_router() -> Router:
    return Router(
        path="/",
        route_handlers=[
            page,
            stream_root,
            stream,
            create_static_files_router(path="/_reactpy/assets", directories=[CLIENT_BUILD_DIR / "assets"], include_in_schema=False),
            create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False),
        ],
    )
