"""The Litestar application: API under /api, the console at /, health at /health."""

from __future__ import annotations

import gc
import logging

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path
from temporalio.client import Client

from api.errors import EXCEPTION_HANDLERS, refuse_nul_characters
from api.clientaddr import trusted_networks
from api.ratelimit import AuditBudget, LoginLimiter
from api.routes.auth import router as auth_router
from api.routes.health import health
from api.routes.data import DATA_ROUTES
from api.routes.inbox import inbox
from api.routes.intake import intake_router
from api.routes.processes import processes_router
from api.routes.tiers import TIER_ROUTES
from api.routes.risk import RISK_ROUTES
from api.temporal import TemporalHandle
from infra.db.engine import bind_tables, close_pool, start_pool
from infra.settings import Settings, get_settings
from infra.telemetry import configure_telemetry, litestar_plugins
from web.asgi import ui_router

log = logging.getLogger("kameng.web")

MAX_BODY_BYTES = 256 * 1024


def create_app(settings: Settings | None = None, *, temporal_client: Client | None = None) -> Litestar:
    """The app; tests hand in the Temporal client of their test server."""
    settings = settings or get_settings()
    trusted_networks(settings.trusted_proxies)  # a bad KAMENG_TRUSTED_PROXIES fails here, by name

    async def on_startup(app: Litestar) -> None:
        bind_tables()
        app.state.owns_pool = await start_pool()

    async def on_shutdown(app: Litestar) -> None:
        if app.state.get("owns_pool"):
            await close_pool()

    return Litestar(
        before_request=refuse_nul_characters,
        route_handlers=[
            auth_router,
            inbox,
            processes_router(),
            intake_router(),
            *DATA_ROUTES,
            *TIER_ROUTES,
            *RISK_ROUTES,
            health,
            ui_router(),
            create_static_files_router(path="/static/swagger", directories=[swagger_ui_path], include_in_schema=False),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        state=State(
            {
                "temporal": TemporalHandle(settings, temporal_client),
                "settings": settings,
                "login_limiter": LoginLimiter(settings.login_rate_limit, settings.rate_limit_storage, settings.login_address_rate_limit),
                "denial_budget": AuditBudget(storage_uri=settings.rate_limit_storage),
            }
        ),
        request_max_body_size=MAX_BODY_BYTES,
        plugins=litestar_plugins(settings),  # server spans and http.server.duration by route
        openapi_config=OpenAPIConfig(
            title="Kameng API",
            version="0.1.0",
            description="卡盟治理中心: tiered admin governance, durable processes, audit.",
            path="/schema",
            render_plugins=[
                # Served from the swagger-ui-bundle package: the docs work with no internet.
                SwaggerRenderPlugin(
                    path="/",
                    js_url="/static/swagger/swagger-ui-bundle.js",
                    css_url="/static/swagger/swagger-ui.css",
                    standalone_preset_js_url="/static/swagger/swagger-ui-standalone-preset.js",
                    favicon="<link rel='icon' type='image/png' href='/static/swagger/favicon-32x32.png'>",
                )
            ],
        ),
        debug=False,
    )


def asgi_app() -> Litestar:
    """Factory for ASGI servers (``granian --factory api.app:asgi_app``), once per web process."""
    from infra.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format)  # a server's worker process starts with none
    configure_telemetry(settings, "kameng-web")
    app = create_app(settings)
    # What exists now (the modules, the app, its routes) lives as long as the process: kept out
    # of the cyclic collector's full passes, which otherwise walk all of it (~140,000 objects,
    # ~0.1 s each) every few thousand requests.
    gc.collect()
    gc.freeze()
    return app

