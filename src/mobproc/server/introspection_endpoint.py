"""RFC 7662 introspection at PingFederate's path; its route is :func:`form_route` around
:meth:`IntrospectionEndpoint.handle` (app.py)."""

PATH = "/as/introspect.oauth2"
