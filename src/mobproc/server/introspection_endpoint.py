"""RFC 7662 introspection at PingFederate's path; its route is
:class:`~.token_endpoint.FormEndpoint` around :meth:`IntrospectionEndpoint.handle` (app.py)."""

PATH = "/as/introspect.oauth2"
