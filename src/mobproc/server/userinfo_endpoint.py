"""OpenID Connect Core §5.3: the userinfo endpoint, at PingFederate's path
``/idp/userinfo.openid``. A bearer token (RFC 6750 §2.1, or §2.2's form body) with the
``openid`` scope answers the account's claims; token failures are RFC 6750 §3's."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from ..domain.id_tokens import userinfo_claims
from ..oauth2.request import FORM_TYPE, MAX_PARAMETERS
from ..services import Services
from .responses import error_response, json_response

PATH = "/idp/userinfo.openid"
MAX_BODY = 8192


def _challenge(error: str, description: str, status: int) -> Response:
    header = f'Bearer realm="mobproc", error="{error}", error_description="{description}"'
    return json_response({"error": error, "error_description": description}, status, {"WWW-Authenticate": header})


def userinfo_route(services: Services, *, retry_after: int):  # noqa: ANN201
    async def userinfo(request: Request) -> Response:
        try:
            if request.method not in ("GET", "HEAD", "POST"):
                return json_response({"error": "invalid_request", "error_description": "Use GET or POST"}, 405,
                                     {"Allow": "GET, HEAD, POST"})
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            token = token.strip() if scheme.lower() == "bearer" else ""
            if not token and request.method == "POST" and \
                    request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM_TYPE:
                body = await request.body()
                if len(body) <= MAX_BODY:
                    form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=MAX_PARAMETERS)
                    token = form.get("access_token", [""])[0]
            if not token:
                return json_response({"error": "invalid_request"}, 401, {"WWW-Authenticate": 'Bearer realm="mobproc"'})
            record = await services.database.run(services.verifier.active, token)
            if record is None:
                return _challenge("invalid_token", "The access token is not active", 401)
            identity = record.authorization.identity
            if identity is None or "openid" not in record.authorization.scope:
                return _challenge("insufficient_scope", "The access token lacks the openid scope", 403)
            return json_response(userinfo_claims(identity))
        except Exception as error:  # noqa: BLE001 - every failure is JSON, never a trace
            return error_response(error, retry_after)

    return userinfo
