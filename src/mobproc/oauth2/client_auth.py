"""RFC 6749 §2.3.1: client authentication with a client id and secret."""

from __future__ import annotations

from ..domain.clients import Client, ClientStore
from .errors import InvalidClientError, InvalidRequestError
from .request import TokenRequest


def authenticate_client(request: TokenRequest, clients: ClientStore) -> Client:
    """The client, by HTTP Basic or by ``client_id`` + ``client_secret`` parameters.

    RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each
    request." A ``client_id`` parameter that repeats the Basic one is tolerated, since
    common clients send it.
    """
    basic = request.basic
    posted_id, posted_secret = request.get("client_id"), request.get("client_secret")
    if basic is not None:
        if posted_secret is not None or (posted_id is not None and posted_id != basic.client_id):
            raise InvalidRequestError("Use one client authentication method: HTTP Basic or parameters, not both")
        client_id, secret = basic.client_id, basic.client_secret
    elif posted_id is not None and posted_secret is not None:
        client_id, secret = posted_id, posted_secret
    else:
        raise InvalidClientError()
    client = clients.find_client(client_id)
    if client is None or not client.check_secret(secret) or not client.enabled:
        raise InvalidClientError()
    return client
