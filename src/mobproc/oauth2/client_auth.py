"""RFC 6749 §2.3.1: client authentication with a client id and secret."""

from __future__ import annotations

from ..domain.clients import Client, ClientStore
from .errors import InvalidClientError, InvalidRequestError
from .request import TokenRequest


def authenticate_client(request: TokenRequest, clients: ClientStore, *, public: bool = False) -> Client:
    """The client, by HTTP Basic or by ``client_id`` + ``client_secret`` parameters.

    RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
    request." A ``client_id`` parameter that repeats the Basic one is tolerated, since
    common clients send it. Basic credentials are read as the RFC encodes them and, failing
    that, as common clients send them (:meth:`BasicCredentials.readings`).
    """
    basic = request.basic
    posted_id, posted_secret = request.get("client_id"), request.get("client_secret")
    if basic is not None:
        readings = list(basic.readings())
        if posted_secret is not None or (posted_id is not None and posted_id not in {r[0] for r in readings}):
            raise InvalidRequestError("Use one client authentication method: HTTP Basic or parameters, not both")
    elif posted_id is not None and posted_secret is not None:
        readings = [(posted_id, posted_secret)]
    elif posted_id is not None and public:
        # RFC 6749 §2.1, §4.1.3: a public client has no secret and names itself with client_id
        # (token_endpoint_auth_method "none"); only a client registered as public may. What it
        # can do so is what public clients are registered for (ClientRegistration).
        client = clients.find_client(posted_id)
        if client is not None and client.public and client.enabled:
            return client
        raise InvalidClientError()
    else:
        raise InvalidClientError()
    for client_id, secret in readings:
        client = clients.find_client(client_id)
        if client is not None and not client.public and client.check_secret(secret) and client.enabled:
            return client
    raise InvalidClientError()
