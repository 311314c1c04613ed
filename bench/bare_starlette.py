"""Ceiling for the token endpoint on mobproc's server stack: Starlette on uvicorn
doing only what every request must do (parse the urlencoded form, answer a JSON
body of a token response's or an introspection answer's size), with no database
and no crypto; and for the MOBPROC v1 API's /ping (read the headers, answer its JSON).

    python -m uvicorn bare_starlette:app --port P --no-access-log
"""

import secrets
import time
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def form(request):
    # The stdlib parser, as mobproc uses (Starlette's own needs python-multipart).
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


async def token(request):
    data = await form(request)
    if "grant_type" not in data:
        return JSONResponse({"error": "invalid_request"}, status_code=400, headers=HEADERS)
    # 28 and 42 characters, the sizes of mobproc's access and refresh tokens.
    return JSONResponse({
        "token_type": "Bearer",
        "expires_in": 7199,
        "access_token": secrets.token_urlsafe(21),
        "refresh_token": secrets.token_urlsafe(31),
    }, headers=HEADERS)


async def introspect(request):
    data = await form(request)
    if "token" not in data:
        return JSONResponse({"error": "invalid_request"}, status_code=400, headers=HEADERS)
    # mobproc's RFC 7662 answer for one of its users, field for field (271 bytes).
    now = int(time.time())
    return JSONResponse({
        "active": True, "scope": "MOBPROC", "client_id": data.get("client_id", ""),
        "token_type": "Bearer", "exp": now + 7199, "iat": now - 1, "sub": "command://user0",
        "iss": "http://127.0.0.1:8765", "username": "command://user0", "platform": "command",
        "multitenant": False, "tenant": "XYZ", "aud": "MOBPROC",
    }, headers=HEADERS)


async def ping(request):
    # The MOBPROC v1 API's /ping answer, with its headers read but nothing checked.
    if "authorization" not in request.headers or "x-tngo-tenant" not in request.headers:
        return JSONResponse({"errorCode": "401-unauthorized"}, status_code=401, headers=HEADERS)
    return JSONResponse({"echoText": request.query_params.get("echoText", ""), "node": "bench:1",
                         "status": "SUCCESS"}, headers=HEADERS)


app = Starlette(routes=[
    Route("/as/token.oauth2", token, methods=["POST"]),
    Route("/as/introspect.oauth2", introspect, methods=["POST"]),
    Route("/mobproc/v1/ping", ping),
])
