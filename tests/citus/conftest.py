"""A Citus cluster (scripts/citus.py) and a single server, each with its own database, for the
tests of this folder. The product runs in processes of its own (management commands and
tests/citus/scenario.py) against either database, as it would in production.

Skipped, with the reason, where Citus is neither installed nor buildable (`scripts/citus.py
check`): not root and no build packages, no vendored source archive, no system PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone

from tests.support import database
from tests.support.processes import ROOT, python_argv

CITUS_SCRIPT = ROOT / "scripts" / "citus.py"
ADMIN_PASSWORD = "citus-test-admin-2026"  # a throwaway test database's admin
# The scenario's setup seeders look the admin up by this address (apps/*/demo.py).
ADMIN_EMAIL = "admin@acme.test"
# Building Citus takes about a minute on two cores; a cold CI machine also installs packages.
BUILD_TIMEOUT = 1800
# What scripts/citus.py says about the installed build (shown in the session's summary).
BUILD_RECORD: dict = {}
# The cluster's superuser (scripts/citus.py makes the nodes with it, trust on 127.0.0.1).
SUPERUSER = "postgres"


@dataclass(frozen=True)
class Server:
    """One database the product runs on: a Citus coordinator or a single PostgreSQL.

    `url` is the app role's (README, "Database roles"), `owner_url` the owner's (migrations,
    new organizations), `admin_url` the superuser's on the cluster (node and placement
    queries, moving an organization: what an operator runs).
    """

    name: str
    url: str
    owner_url: str
    admin_url: str

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a product process on this database (tasks run inline, mail dropped)."""
        env = dict(os.environ)
        env.pop("DATABASE_OWNER_URL", None)
        if self.owner_url != self.url:
            env["DATABASE_OWNER_URL"] = self.owner_url
        env.update(
            DATABASE_URL=self.url,
            DJANGO_SETTINGS_MODULE="config.settings",
            HANDOFF_ADMIN_PASSWORD=ADMIN_PASSWORD,
            # The sweep's on-commit deliveries run in the same process: nothing is sent to the
            # test Redis that another test's worker (on another database) could pick up.
            CELERY_TASK_ALWAYS_EAGER="true",
            EMAIL_URL="dummymail://",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def manage(self, *args: str, timeout: float = 600) -> str:
        """Run a management command on this database; its stdout."""
        return run_checked(python_argv("manage.py", *args), self.env(), timeout)

    def scenario(self, *args: str, timeout: float = 600) -> dict:
        """Run one tests/citus/scenario.py command on this database; its JSON answer."""
        out = run_checked(python_argv("-m", "tests.citus.scenario", *args), self.env(), timeout)
        return json.loads(out.strip().splitlines()[-1])

    def sql(self, query: str, params: tuple = (), *, as_role: str = "admin") -> list[tuple]:
        """Rows of one query as the admin, the owner or the app role, autocommit (Citus UDFs
        such as citus_schema_move refuse a transaction block)."""
        url = {"admin": self.admin_url, "owner": self.owner_url, "app": self.url}[as_role]
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def node_sql(self, port: int, query: str, params: tuple = ()) -> list[tuple]:
        """Rows of one query as the superuser on one node of the cluster, shards visible."""
        parts = urlsplit(self.admin_url)
        url = parts._replace(netloc=f"{parts.username}@{parts.hostname}:{port}").geturl()
        # Citus hides shards from pg_class for client applications unless told otherwise.
        options = "-c citus.override_table_visibility=off"
        with psycopg.connect(url, autocommit=True, options=options) as conn:
            return conn.execute(query, params).fetchall()


def with_user(url: str, user: str) -> str:
    """`url` logging in as `user` (no password: the local cluster trusts 127.0.0.1)."""
    parts = urlsplit(url)
    return parts._replace(netloc=f"{user}@{parts.hostname}:{parts.port}").geturl()


def exported(lines: str) -> dict[str, str]:
    """The variables of `export NAME=value` lines (scripts/citus.py's output)."""
    found = {}
    for line in lines.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            found[name] = value
    return found


def run_checked(argv: list[str], env: dict[str, str], timeout: float) -> str:
    """Run a product process from the repo root; fail the test with its output on error."""
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv[1:4])} … exited {done.returncode}:\n{done.stderr[-4000:]}")
    return done.stdout


def citus_command(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CITUS_SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def base_name() -> str:
    return os.environ.get("TEST_DATABASE_NAME") or f"test_{settings.DATABASES['default']['NAME']}"


@pytest.fixture(scope="session")
def citus_server() -> Server:
    """A fresh database on the local Citus cluster (built and started on first use)."""
    check = citus_command("check")
    if check.returncode != 0:
        pytest.skip(f"Citus is not installed and cannot be built here: {check.stdout.strip()}")
    made = citus_command(
        "createdb", "--name", f"{base_name()}_citus", "--fresh", timeout=BUILD_TIMEOUT
    )
    if made.returncode != 0:
        pytest.fail(f"scripts/citus.py could not start the cluster:\n{made.stderr[-4000:]}")
    built = citus_command("build")
    if built.returncode == 0:
        BUILD_RECORD.update(json.loads(built.stdout))
    urls = exported(made.stdout)
    app, owner = urls["DATABASE_URL"], urls["DATABASE_OWNER_URL"]
    return Server("citus", app, owner, with_user(app, SUPERUSER))


@pytest.fixture(scope="session")
def single_server(django_db_modify_db_settings) -> Server:
    """A fresh database on the single PostgreSQL server the rest of the suite uses, made by the
    owner role and used by the app role, as the rest of the suite (tests/support/database.py:
    DATABASE_OWNER_URL's role, or DATABASE_URL's with the session's least-privilege role)."""
    name = f"{base_name()}_single"
    app, owner = (
        urlsplit(url)._replace(path=f"/{name}").geturl()
        for url in (database.app_database_url(), database.owner_database_url())
    )
    # The owner role may create databases; the app role may not.
    with psycopg.connect(
        urlsplit(owner)._replace(path="/postgres").geturl(), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return Server("single", app, owner, owner)


@pytest.fixture(scope="session")
def session_now():
    """The instant both runs are measured as of (the session's now, shifted or not)."""
    return timezone.now().replace(microsecond=0)


def worker_ports(server: Server) -> list[int]:
    rows = server.sql(
        "SELECT nodeport FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0 "
        "ORDER BY nodeport"
    )
    return [port for (port,) in rows]


def schema_nodes(server: Server) -> dict[str, set[int]]:
    """For each distributed schema, the worker ports its tables' shards live on."""
    rows = server.sql(
        "SELECT s.schema_name::text, sh.nodeport FROM citus_schemas s "
        "JOIN citus_shards sh ON sh.colocation_id = s.colocation_id"
    )
    nodes: dict[str, set[int]] = {}
    for schema, port in rows:
        nodes.setdefault(schema, set()).add(port)
    return nodes


def pytest_terminal_summary(terminalreporter):
    if BUILD_RECORD:
        terminalreporter.write_line(
            f"citus: {BUILD_RECORD.get('archive')} built for "
            f"{BUILD_RECORD.get('pg_config_version')} in {BUILD_RECORD.get('build_seconds')} s "
            f"at {BUILD_RECORD.get('built_at')} (cached by sha256 {str(BUILD_RECORD.get('sha256'))[:12]})"
        )
