"""Prefix search that an index answers, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_


def prefix_range(column, prefix: str, is_sqlite: bool) -> ColumnElement[bool]:  # noqa: ANN001
    """``column`` starts with ``prefix``, as a range in code-point order: ``prefix <= column <
    successor``, where the successor is the prefix with its last character moved one on. A
    B-tree answers a range, where ``LIKE 'x%'`` is answered by an index only on SQLite with a
    case-sensitive LIKE and on PostgreSQL with a pattern operator class; and a range needs no
    escaping of ``%`` and ``_``. Code-point order is SQLite's BINARY collation and PostgreSQL's
    "C" (the index of 0009_admin is on the name in "C").

    >>> from sqlalchemy import column
    >>> str(prefix_range(column("name"), "ab", True).compile(compile_kwargs={"literal_binds": True}))
    "name >= 'ab' AND name < 'ac'"
    """
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters (UTF-8 cannot hold them)
        following = 0xE000
    successor = prefix[:-1] + chr(following) if following <= 0x10FFFF else None
    ordered = column if is_sqlite else column.collate("C")
    if successor is None:
        return ordered >= prefix
    return and_(ordered >= prefix, ordered < successor)
