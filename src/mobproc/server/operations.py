"""What operators watch: liveness, readiness, metrics."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import telemetry
from ..storage import migrate
from ..storage.database import Database, DatabaseUnavailable


async def healthz(request: Request) -> Response:
    """The process is alive and answering (it says nothing of the database)."""
    return JSONResponse({"status": "ok"})


def readyz_route(database: Database, retry_after: int):  # noqa: ANN201
    def check() -> str | None:
        try:
            return None if migrate.is_current(database) else "the database schema is not current: run mobproc db upgrade"
        except DatabaseUnavailable as error:
            return f"the database is unreachable ({error})"
        except Exception as error:  # noqa: BLE001 - readiness reports any failure, it never raises
            return f"the database is unreachable ({type(error).__name__})"

    async def readyz(request: Request) -> Response:
        """Ready for traffic: the database answers and its schema is the one this code expects."""
        problem = await run_in_threadpool(check)
        if problem:
            return JSONResponse({"status": "unavailable", "reason": problem}, 503, {"Retry-After": str(retry_after)})
        return JSONResponse({"status": "ready"})

    return readyz


async def metrics_endpoint(request: Request) -> Response:
    body, content_type = telemetry.render()
    return Response(body, media_type=content_type)
