"""Two roles in the tests too: the owner creates the test database, the tests run as the app.

The test database is created and migrated by the owner role (DATABASE_OWNER_URL), which
grants the app role its data privileges; then the session's connections log in as the
app role (DATABASE_URL), so the privilege refusals and triggers the tests exercise are
the real ones. When only DATABASE_URL is given (one role, e.g. a superuser on a shared
development server), that role is the owner and the session creates a least-privilege
login role, ``handoff_test_app``, to run as (the owner needs CREATEROLE for that).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import connections, transaction
from psycopg import errors, sql

from apps.tenants.database_roles import owner_connection

TEST_APP_ROLE = "handoff_test_app"
CREDENTIALS = ("USER", "PASSWORD")

_app: dict[str, str] = {}
_owner: dict[str, str] = {}


def _conninfo(db: dict, dbname: str) -> dict:
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": db.get("PORT") or 5432,
        "user": db["USER"],
        "password": db.get("PASSWORD") or None,
        "dbname": dbname,
        "connect_timeout": 10,
    }


def _test_app_role(owner: dict) -> dict[str, str]:
    """Create (once per server) the least-privilege role the session runs as."""
    # Deterministic, so parallel sessions on one server agree on it; it only reaches test data.
    password = hashlib.sha256(f"{owner['USER']}:{owner.get('PASSWORD')}:app".encode()).hexdigest()
    try:
        with psycopg.connect(**_conninfo(owner, "postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", [TEST_APP_ROLE]
            ).fetchone()
            if not exists:
                # A parallel session may make it first.
                with contextlib.suppress(errors.DuplicateObject, errors.UniqueViolation):
                    conn.execute(
                        sql.SQL(
                            "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
                        ).format(sql.Identifier(TEST_APP_ROLE), sql.Literal(password))
                    )
    except psycopg.Error as exc:
        pytest.exit(
            f"The tests run as a least-privilege role. Set DATABASE_OWNER_URL (the owner) next to "
            f"DATABASE_URL (the app role), or let DATABASE_URL's role create {TEST_APP_ROLE}: {exc}",
            returncode=1,
        )
    return {"USER": TEST_APP_ROLE, "PASSWORD": password}


def roles_prepare() -> None:
    """Before the test database exists: log in as the owner, remember the app role."""
    db = settings.DATABASES["default"]
    owner = settings.DATABASE_OWNER
    if not owner or owner.get("USER") == db["USER"]:
        owner_creds = {key: db.get(key, "") for key in CREDENTIALS}
        settings.DATABASE_OWNER = {**db, **owner_creds}
        app_creds = _test_app_role({**db, **owner_creds})
    else:
        owner_creds = {key: owner.get(key, "") for key in CREDENTIALS}
        app_creds = {key: db.get(key, "") for key in CREDENTIALS}
    _owner.update(owner_creds)
    _app.update(app_creds)
    settings.DATABASE_APP_ROLE = app_creds["USER"]
    db.update(owner_creds)


def _switch(creds: dict[str, str]) -> None:
    connections["default"].close()
    settings.DATABASES["default"].update(creds)
    connections["default"].settings_dict.update(creds)


def run_as_app() -> None:
    """After the test database is made: every connection from now on is the app role's."""
    _switch(_app)


def run_as_owner() -> None:
    """Before the test database is dropped (only its owner may)."""
    _switch(_owner)


def _url(creds: dict[str, str]) -> str:
    db = connections["default"].settings_dict
    auth = quote(creds["USER"], safe="")
    if creds.get("PASSWORD"):
        auth += ":" + quote(creds["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def app_database_url() -> str:
    """DATABASE_URL for a process the tests start (the app role, the test database)."""
    return _url(_app or {k: connections["default"].settings_dict[k] for k in CREDENTIALS})


def owner_database_url() -> str:
    """DATABASE_OWNER_URL for a process the tests start."""
    return _url(_owner or {k: connections["default"].settings_dict[k] for k in CREDENTIALS})


# Tables whose triggers keep evidence (apps/sla/migrations/0006, apps/accounts/migrations/0003).
EVIDENCE_TABLES = (
    "sla_slaversion",
    "sla_commitment",
    "sla_escalationrule",
    "sla_signature",
    "sla_slaversionchange",
    "mql_mqldefinition",
    "accounts_auditevent",
)
_MODES = {"O": "ENABLE", "A": "ENABLE ALWAYS", "R": "ENABLE REPLICA", "D": "DISABLE"}


@contextlib.contextmanager
def evidence_guards_lifted(schema: str, tables=EVIDENCE_TABLES) -> Iterator[None]:
    """As the owner, in one transaction: the tables' triggers off, the block, then every
    trigger back in the mode it had. Test clean-up only — which is exactly what the app's
    role cannot do (it owns no table)."""
    with owner_connection():
        connection = connections["default"]
        connection.set_schema(schema)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE NOT t.tgisinternal AND n.nspname = %s AND c.relname = ANY(%s)",
                [schema, list(tables)],
            )
            states = cursor.fetchall()
            for table in tables:
                cursor.execute(
                    sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(table))
                )
            yield
            # Django's foreign keys are deferred: check them now, before touching the tables.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table, name, mode in states:
                cursor.execute(
                    sql.SQL("ALTER TABLE {} {} TRIGGER {}").format(
                        sql.Identifier(table), sql.SQL(_MODES[mode]), sql.Identifier(name)
                    )
                )


def committed_user_delete(schema: str, email: str) -> None:
    """Delete a user a test committed, with the audit events it is the actor of (the audit
    log is append-only and protects its actors): test clean-up, as the owner."""
    # The app layer sits above tests/support; importing it at module level here would load
    # models before Django is set up (this module is imported by conftest).
    from apps.accounts.models import AuditEvent, User

    with evidence_guards_lifted(schema, tables=("accounts_auditevent",)):
        AuditEvent.objects.filter(actor__email=email).delete()
        User.objects.filter(email=email).delete()
