"""RFC 7009 revocation at PingFederate's path; its route is
:class:`~.token_endpoint.FormEndpoint` around :meth:`RevocationEndpoint.handle` (app.py)."""

PATH = "/as/revoke_token.oauth2"
