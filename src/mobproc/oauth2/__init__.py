"""The protocol layer, a map of the RFCs: the token endpoint and its grants (RFC 6749),
introspection (RFC 7662), revocation (RFC 7009), metadata (RFC 8414), errors. Internal: not
mobproc's public API."""
