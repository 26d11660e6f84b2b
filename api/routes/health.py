"""Liveness of the parts the product needs: the database and Temporal."""

from __future__ import annotations

import asyncio

from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from api.schemas import ComponentHealth, HealthRead
from infra.db.engine import describe, ping
from infra.settings import get_settings


@get("/health", summary="Database and Temporal health", tags=["ops"], responses={503: ResponseSpec(data_container=HealthRead, description="Degraded: see which part")})
async def health(request: Request) -> Response[HealthRead]:
    settings = get_settings()
    db_problem, temporal_problem = await asyncio.gather(
        ping(), request.app.state.temporal.check()
    )
    body = HealthRead(
        status="ok" if db_problem is None and temporal_problem is None else "degraded",
        database=ComponentHealth(db_problem is None, db_problem or describe(settings)),
        temporal=ComponentHealth(temporal_problem is None, temporal_problem or settings.temporal_address),
    )
    return Response(body, status_code=200 if body.status == "ok" else 503)
