"""The admin REST API (``/admin/v1``): the operator's side of mobproc over HTTP."""

from .app import PATH, create_admin, mount

__all__ = ["PATH", "create_admin", "mount"]
