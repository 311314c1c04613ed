"""The admin API's door as FastAPI dependencies: what a call needs of its request, handed to
the decisions of :mod:`.door`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from ...domain.operators import Principal
from ...domain.roles import Action
from .door import AdminParts, principal_of, require


def parts(request: Request) -> AdminParts:
    return request.app.state.parts


def principal(request: Request) -> Principal:
    """The door (a sync dependency: FastAPI runs it on a worker thread, as the database wants)."""
    found = parts(request)
    return principal_of(found.services, request.headers.get("authorization"), found.address_of(request.scope))


def allowed(action: Action) -> Callable[[Request], Principal]:
    """The door, and the role's leave to do ``action``: a FastAPI dependency."""

    def check(request: Request) -> Principal:
        return require(principal(request), action)

    check.__name__ = f"allowed_to_{action.name.lower()}"
    return check
