"""ReactPy served by Litestar itself: the page shell, the client's assets and the layout stream."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Router, WebSocket, get, websocket
from litestar.datastructures import Cookie
from litestar.exceptions import WebSocketDisconnect
from litestar.response import Redirect, Response
from litestar.static_files import create_static_files_router
from reactpy import html
from reactpy.backend._common import CLIENT_BUILD_DIR, CommonOptions, read_client_index_html
from reactpy.backend.types import Connection, Location
from reactpy.config import REACTPY_WEB_MODULES_DIR
from reactpy.core.hooks import ConnectionContext
from reactpy.core.layout import Layout
from reactpy.core.serve import serve_layout

from web.components import ROUTES, App
from web.session import LANG_COOKIE

log = logging.getLogger("kameng.web")
STATIC_DIR = Path(__file__).parent / "static"

UI_PATHS = list(ROUTES)
"""Pages the console answers (routed client-side once loaded); anything else stays a 404."""
LANG_MAX_AGE = 365 * 24 * 3600

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
        html.script({"src": "/static/kameng.js", "defer": True}),
    )
    return read_client_index_html(CommonOptions(head=head)).replace('lang="en"', 'lang="zh-CN"')


_INDEX = _index_html()


_INDEX_EN = _INDEX.replace('lang="zh-CN"', 'lang="en"')


@get(UI_PATHS, include_in_schema=False, cache=False)
async def page(request: Request) -> Response[str]:
    shell = _INDEX_EN if request.cookies.get(LANG_COOKIE) == "en" else _INDEX
    return Response(shell, media_type="text/html", headers=SECURITY_HEADERS)


_RENDER_LOCK: asyncio.Lock | None = None


class ConsoleLayout(Layout):
    """One render at a time across all of this process's connections.

    ReactPy 1.1 keeps the stack of components being rendered in a thread-local shared by every
    layout in the thread, and a render can yield mid-way (unmounting a component awaits its
    effects). Two connections rendering at once — which live updates make the norm, since one
    change re-renders every subscribed page — then corrupt each other's stack ("Hook stack is
    in an invalid state"). Serialising renders keeps each render's stack its own.
    """

    async def _create_layout_update(self, old_state):  # type: ignore[override]
        global _RENDER_LOCK
        if _RENDER_LOCK is None:
            _RENDER_LOCK = asyncio.Lock()
        async with _RENDER_LOCK:
            return await super()._create_layout_update(old_state)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never another origin (``//host``, ``https://...``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


@get("/lang", include_in_schema=False, cache=False)
async def switch_language(request: Request, to: str = "zh", next: str | None = None) -> Redirect:  # noqa: A002
    """The language switch: remembered in a cookie, then back to the page it was clicked on."""
    lang = "en" if to == "en" else "zh"
    cookie = Cookie(key=LANG_COOKIE, value=lang, path="/", max_age=LANG_MAX_AGE, samesite="lax", httponly=False, secure=request.url.scheme == "https")
    return Redirect(_safe_next(next), status_code=303, cookies=[cookie])


def _same_origin(socket: WebSocket) -> bool:
    """Browsers send Origin on websocket handshakes: refuse other sites (cross-site websocket hijacking)."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True  # not a browser
    hosts = {socket.headers.get("host", ""), socket.headers.get("x-forwarded-host", "")} - {""}
    return urlsplit(origin).netloc in hosts


async def _serve(socket: WebSocket, path: str) -> None:
    if not _same_origin(socket):
        await socket.close(code=4403, reason="cross-origin")
        return
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
        await serve_layout(ConsoleLayout(ConnectionContext(App(), value=connection)), send, recv)
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
            switch_language,
            stream_root,
            stream,
            create_static_files_router(path="/_reactpy/assets", directories=[CLIENT_BUILD_DIR / "assets"], include_in_schema=False),
            # JavaScript of ReactPy web modules (reactpy-router's history and links), copied there on import.
            create_static_files_router(path="/_reactpy/modules", directories=[REACTPY_WEB_MODULES_DIR.current], include_in_schema=False),
            create_static_files_router(path="/static", directories=[STATIC_DIR], include_in_schema=False),
        ],
    )
