"""The domain: clients, identities, tokens and the services every surface shares
(Authenticator, registries, AccessTokenVerifier). Internal: not mobproc's public API."""
