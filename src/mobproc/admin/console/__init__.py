"""The web console: server-rendered pages over the admin API's registries, signed in through
mobproc's own authorization endpoint as a first-party client (backend-for-frontend)."""
