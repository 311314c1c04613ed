"""What operators watch: liveness, readiness, metrics."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import telemetry
from ..storage import migrate
from ..storage.database import Database, DatabaseUnavailable


async def healthz(request: Request) -> Response:
    """The process is alive and answering (it says nothing of the database)."""
    return JSONResponse({"status": "ok"})


def readyz_route(database: Database, retry_after: int, *, detailed: bool,
                 sources: Mapping[str, object] | None = None):  # noqa: ANN201
    """``sources``: the identity sources (with ``detailed``, each directory's state is shown)."""
    directories = {name: source for name, source in (sources or {}).items() if hasattr(source, "probe")}

    def check_sources() -> dict[str, dict[str, str]]:
        states = {}
        for name, source in directories.items():
            problem = source.probe()
            states[name] = {"status": "ok"} if problem is None else {"status": "unavailable", "reason": problem}
        return states

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
            # Why, only to operators: the reason names the database and its errors.
            body = {"status": "unavailable", **({"reason": problem} if detailed else {})}
            return JSONResponse(body, 503, {"Retry-After": str(retry_after)})
        if not (detailed and directories):
            return JSONResponse({"status": "ready"})
        # A directory that cannot be reached makes the server degraded, not unready: every
        # other way in still works, and that source's logins get a 503 with Retry-After. Taking
        # every server out of the load balancer would turn one source's outage into a total one.
        states = await run_in_threadpool(check_sources)
        degraded = any(state["status"] != "ok" for state in states.values())
        return JSONResponse({"status": "degraded" if degraded else "ready", "identity_sources": states})

    return readyz


async def metrics_endpoint(request: Request) -> Response:
    body, content_type = telemetry.render()
    return Response(body, media_type=content_type)
