"""Run ORM code on its own connection, outside the test's transaction, so its writes commit.

Tests that need other connections (threads, a live server, a worker) to see their
rows use the `db` fixture (so the session's test database is set up) and write
through `committed(...)`: the function runs in a fresh thread, whose Django
connection is its own and in autocommit mode, inside the given tenant schema.
`transactional_db` is not an option: its flush would wipe the public tenants table.
"""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections
from django_tenants.utils import schema_context

T = TypeVar("T")


def committed(schema: str, fn: Callable[[], T]) -> T:
    """fn() run and committed in `schema` on a separate connection; its result, or its exception."""
    outcome: dict = {}

    def run() -> None:
        try:
            with schema_context(schema):
                outcome["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
