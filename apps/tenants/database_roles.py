"""Two PostgreSQL roles: the app's least-privilege role and the owner that runs DDL.

The web, worker and beat processes connect as DATABASE_URL's role: no superuser, owns
no table, so it cannot TRUNCATE, ALTER, DISABLE TRIGGER or set
``session_replication_role`` — the append-only and signed-version triggers hold
against it. Schema changes run as DATABASE_OWNER_URL's role, which owns every schema
and table: ``migrate_schemas`` (through ``migration_executor``, django-tenants'
GET_EXECUTOR_FUNCTION) and creating or dropping an organization's schema (through
``owner_connection``). After migrating, the owner grants the app role what it needs
and sets default privileges, so tables it creates later — in any schema, including a
new organization's — are usable by the app role at once.

``owner_connection()`` swaps Django's default connection, for the current thread and
the duration of the block, for one that logs in as the owner (same database, same
tenant schema). Everything inside — the ORM, django-tenants, ``transaction.atomic`` —
runs on it, in its own transaction. Without a distinct owner configured (single-role
installs), it is a no-op.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend
from django_tenants.migration_executors import get_executor
from psycopg import sql

# Owner credentials taken from DATABASE_OWNER_URL; the database name stays DATABASE_URL's
# (so a test run's database is the owner's too).
OWNER_KEYS = ("USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT, UPDATE"


def owner_settings(base: dict) -> dict | None:
    """``base`` (a connection's settings) with the owner's credentials, or None without an owner."""
    owner = settings.DATABASE_OWNER
    if not owner:
        return None
    merged = copy.deepcopy(base)
    for key in OWNER_KEYS:
        if owner.get(key) not in (None, "") or key in ("USER", "PASSWORD"):
            merged[key] = owner.get(key, "")
    return merged


def has_distinct_owner() -> bool:
    """Whether DDL runs as another role than the app's."""
    owner = settings.DATABASE_OWNER
    return bool(owner) and owner.get("USER") != settings.DATABASE_APP_ROLE


@contextmanager
def owner_connection() -> Iterator:
    """Run the block on a connection logged in as the owner role (re-entrant; no-op without one)."""
    current = connections[DEFAULT_DB_ALIAS]
    owner_dict = owner_settings(current.settings_dict)
    if (
        getattr(current, "is_owner_connection", False)
        or owner_dict is None
        or owner_dict["USER"] == current.settings_dict.get("USER")
    ):
        yield current
        return
    owner = load_backend(owner_dict["ENGINE"]).DatabaseWrapper(owner_dict, DEFAULT_DB_ALIAS)
    owner.is_owner_connection = True
    if getattr(current, "tenant", None) is not None:
        owner.set_tenant(current.tenant, include_public=current.include_public_schema)
    connections[DEFAULT_DB_ALIAS] = owner
    try:
        yield owner
    finally:
        try:
            owner.close()
        finally:
            connections[DEFAULT_DB_ALIAS] = current


def app_role_grant(*, schemas: Iterable[str]) -> None:
    """As the owner: let the app role use the tables of ``schemas`` and of every later schema.

    Data privileges only (no TRUNCATE, REFERENCES, TRIGGER, CREATE); idempotent.
    """
    app_role = settings.DATABASE_APP_ROLE
    connection = connections[DEFAULT_DB_ALIAS]
    if not app_role or app_role == connection.settings_dict.get("USER"):
        return
    role = sql.Identifier(app_role)
    statements = [
        sql.SQL("ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO {}").format(role),
        sql.SQL("ALTER DEFAULT PRIVILEGES GRANT {} ON TABLES TO {}").format(
            sql.SQL(TABLE_PRIVILEGES), role
        ),
        sql.SQL("ALTER DEFAULT PRIVILEGES GRANT {} ON SEQUENCES TO {}").format(
            sql.SQL(SEQUENCE_PRIVILEGES), role
        ),
    ]
    for schema in dict.fromkeys(schemas):
        name = sql.Identifier(schema)
        statements += [
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(name, role),
            sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(
                sql.SQL(TABLE_PRIVILEGES), name, role
            ),
            sql.SQL("GRANT {} ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                sql.SQL(SEQUENCE_PRIVILEGES), name, role
            ),
        ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def migration_executor(codename: str | None = None):
    """django-tenants' executor class, running each schema's migrations as the owner role."""
    base = get_executor(codename=codename)

    class OwnerMigrationExecutor(base):
        def run_migrations(self, tenants=None):
            schemas = list(tenants or [])
            with owner_connection():
                super().run_migrations(tenants=list(schemas))
                app_role_grant(schemas=schemas)

        def run_multi_type_migrations(self, tenants):
            tenants = list(tenants)
            with owner_connection():
                super().run_multi_type_migrations(tenants=tenants)
                app_role_grant(schemas=[schema for schema, _ in tenants])

    return OwnerMigrationExecutor
