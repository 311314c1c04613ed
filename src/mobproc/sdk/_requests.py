"""``Authorization: Bearer`` for requests (imported only when asked for: requests is optional)."""

from __future__ import annotations

import functools
from typing import Any

try:
    import requests
    from requests.auth import AuthBase
except ImportError as missing:  # pragma: no cover - the test extra installs requests
    raise ImportError(
        "mobproc.RequestsBearerAuth needs requests: pip install requests (or pip install 'mobproc[requests]')"
    ) from missing

from ._auth import advance, bearer_flow
from ._session import TokenSession

_Steps = Any  # bearer_flow over requests.PreparedRequest


class RequestsBearerAuth(AuthBase):
    """requests authentication from a :class:`TokenSession`, with the same retry after a
    ``401 invalid_token`` as :class:`BearerAuth`.

    >>> session = TokenSession("qa", client_id, secret, username="command://alice", password=pw)  # doctest: +SKIP
    >>> requests.get(api_url + "/mobproc/v1/ping", auth=RequestsBearerAuth(session))          # doctest: +SKIP
    <Response [200]>

    The request is sent again after a refused token, so its body must be re-readable (not a
    file or generator).
    """

    def __init__(self, session: TokenSession) -> None:
        if not isinstance(session, TokenSession):
            raise TypeError("RequestsBearerAuth takes a TokenSession (requests is synchronous)")
        self.session = session

    def __repr__(self) -> str:
        return f"RequestsBearerAuth({self.session!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        steps = bearer_flow(request)
        advance(steps, None, self.session)  # sets the header on ``request``
        request.register_hook("response", functools.partial(self._answered, steps))  # type: ignore[no-untyped-call]
        return request

    def _answered(self, steps: _Steps, response: requests.Response, **send: Any) -> requests.Response:
        again = advance(steps, response, self.session)
        if again is None:
            return response
        # As requests' own HTTPDigestAuth: release the connection, send a copy, keep the history.
        response.content  # noqa: B018 - read, so the connection can go back to the pool
        response.close()
        retry = again.copy()
        retried: requests.Response = response.connection.send(retry, **send)
        retried.history.append(response)
        retried.request = retry
        return retried

