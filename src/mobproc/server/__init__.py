"""The HTTP edge (ASGI, Starlette): thin adapters of the token endpoints, documents and
operations over the services. Internal: not mobproc's public API."""
