"""The sign-in cookies: ``HttpOnly``, ``SameSite=Lax``, and over HTTPS ``Secure`` with the
``__Host-`` prefix (RFC 6265bis §4.1.3.2: only this host, path /, never set by a sibling
domain or over plain HTTP). Each holds a random id only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

SESSION = "mobproc_session"
LOGIN = "mobproc_login"  # the login transaction the forms' CSRF tokens are bound to
LOGIN_MAX_AGE = 3600


class Cookies:
    def __init__(self, issuer: str) -> None:
        # Behind a proxy that ends TLS the server sees http: the issuer says what browsers see.
        self._https_issuer = issuer.startswith("https://")

    def secure(self, request: Request) -> bool:
        return self._https_issuer or request.url.scheme == "https"

    def name(self, request: Request, base: str) -> str:
        return f"__Host-{base}" if self.secure(request) else base

    def get(self, request: Request, base: str) -> str | None:
        return request.cookies.get(self.name(request, base))

    def set(self, request: Request, response: Response, base: str, value: str, max_age: int | None) -> None:
        response.set_cookie(self.name(request, base), value, max_age=max_age, path="/", secure=self.secure(request),
                            httponly=True, samesite="lax")

    def clear(self, request: Request, response: Response, base: str) -> None:
        response.delete_cookie(self.name(request, base), path="/", secure=self.secure(request), httponly=True,
                               samesite="lax")
