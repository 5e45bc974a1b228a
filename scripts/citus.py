#!/usr/bin/env python3
"""Build Citus from the vendored source and run a local Citus cluster (one coordinator, two workers).

Usage: python scripts/citus.py COMMAND [--data-dir DIR]   (DIR defaults to <repo>/.data/citus)

  check        exit 0 when Citus is installed or can be built here, 3 (with the reason) otherwise
  build        build and install Citus unless the installed one is this build (cheap check)
  start        build if needed, start the coordinator and the workers, register them with each
               other, create the two roles and the application database (owned by the owner role,
               with the extension) on every node, then print `export DATABASE_URL=…` (the app
               role) and `export DATABASE_OWNER_URL=…` (the owner), both on the coordinator:
                   eval "$(scripts/citus start)"
  createdb     --name NAME [--fresh]: the same for another database (--fresh drops it first);
               prints the same two export lines
  add-worker   start one more worker node (worker3, worker4, …) and register it
  stop         stop every node that runs from DIR
  status       show the nodes and, on the coordinator, the registered workers
  env          print the `export` lines without starting anything

Only the `export` lines go to stdout; progress and errors go to stderr.

Roles (README, "Database roles"): every node gets the owner role (`handoff_owner`: owns the
database, runs migrations and creates organizations' schemas) and the app role (`handoff_app`:
data privileges only), as scripts/services.py makes them. Citus runs a statement's work on a
worker as the role that sent it to the coordinator, so both must exist, with the same names,
on every node, and the database must be the owner's on every node (it creates each new
organization's schema on the worker that gets it). The superuser only creates the roles, the
databases and the extension, and registers the nodes.

The build is cached by the archive's sha256 under $HANDOFF_CITUS_CACHE (default
~/.cache/handoff), outside the clone, so a machine builds it once whatever checkout asks.
`make install` writes citus.so and the extension's SQL files into the system PostgreSQL's
pkglibdir and sharedir (Debian's PostgreSQL server binaries load extensions from there only),
so installing needs root, as on the development machines and in CI; when the installed
citus.so is byte-identical to the cached build nothing is done. As root, the Debian packages
the build needs (postgresql-server-dev-<major> and the -dev libraries configure and the server
headers ask for) are installed with apt-get.

Environment:
  HANDOFF_CITUS_PORT       coordinator port on 127.0.0.1 (default 25480; workers use the next ones).
                           Keep it below the ephemeral port range (Linux: 32768-60999), where any
                           outgoing connection may take a worker's port before it starts. A node
                           started before with another port moves to this one (its config and
                           its registration on the coordinator, in every Citus database).
  HANDOFF_CITUS_SOURCE     the Citus source archive (default: shared/vendor/citus-*.tar.gz
                           beside the clone)
  HANDOFF_CITUS_CACHE      where builds are kept (default ~/.cache/handoff)
  HANDOFF_PG_BINDIR        as for scripts/services.py: the PostgreSQL programs to use
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import pwd
import re
import shlex
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_spec = importlib.util.spec_from_file_location("services", Path(__file__).with_name("services.py"))
services = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(services)  # type: ignore[union-attr]

Fail = services.Fail
HOST = services.HOST
REPO = services.REPO
DB_USER = services.DB_USER  # the nodes' superuser: roles, databases, extension, nodes
DB_NAME = services.DB_NAME
OWNER_ROLE = services.OWNER_ROLE
APP_ROLE = services.APP_ROLE
DEFAULT_DATA_DIR = REPO / ".data" / "citus"
# Below Linux's ephemeral port range (ip_local_port_range, 32768-60999 by default): a port in
# it can be taken by any outgoing connection (a test's to the shared PostgreSQL) at any moment.
DEFAULT_PORT = 25480
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
WORKERS = 2
ARCHIVE_GLOB = "citus-*.tar.gz"
# -dev packages that configure (lz4, zstd) and the server headers (gssapi via libpq-be.h) need.
BUILD_PACKAGES = ("liblz4-dev", "libzstd-dev", "libkrb5-dev")
BUILD_TIMEOUT = 3600
# Included from postgresql.conf of every node; rewritten on every start.
NODE_CONF = """\
# Written by scripts/citus.py on every start: edit that script, not this file.
listen_addresses = '{host}'
port = {port}
unix_socket_directories = ''
shared_preload_libraries = 'citus'
# citus_schema_move() copies a schema with logical replication.
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
# A transaction that writes on two nodes commits with two-phase commit.
max_prepared_transactions = 200
max_connections = 300
# Background workers: Citus runs a maintenance daemon per database that has the extension, on
# every node, and a schema move needs logical replication workers on top; with the default 8
# a node with seven Citus databases has none left, and citus_schema_move() waits for ever
# ("out of background worker slots").
max_worker_processes = 64
# Each new schema (one per organization) becomes a distributed schema on one worker.
citus.enable_schema_based_sharding = on
# Row triggers (the signed-SLA guards, append-only tables) fire on the worker that holds the
# schema; they only read tables of their own schema, which Citus keeps on the same node.
citus.enable_unsafe_triggers = on
# Local nodes talk plain TCP; a production cluster keeps the default (sslmode=require).
citus.node_conninfo = 'sslmode=disable'
# Development cluster: never wait for the disk (as scripts/services.py).
fsync = off
synchronous_commit = off
full_page_writes = off
"""


def info(message: str) -> None:
    """Print a progress message to stderr."""
    print(f"citus: {message}", file=sys.stderr, flush=True)


def node_names(data_dir: Path) -> list[str]:
    """coordinator, worker1, worker2 and any worker added with add-worker, in port order."""
    extra = sorted(
        (path.name for path in data_dir.glob("worker*") if path.name[6:].isdigit()),
        key=lambda name: int(name[6:]),
    )
    names = ["coordinator", *(f"worker{i}" for i in range(1, WORKERS + 1))]
    return names + [name for name in extra if name not in names]


def base_port() -> int:
    """The coordinator's port: HANDOFF_CITUS_PORT, else the default."""
    return services.env_port("HANDOFF_CITUS_PORT", DEFAULT_PORT)


def node_port(name: str) -> int:
    """The port of a node: the coordinator's, then one more per worker number."""
    base = base_port()
    return base if name == "coordinator" else base + int(name.removeprefix("worker"))


def ephemeral_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int] | None:
    """The kernel's range of ports for outgoing connections, or None where it cannot be read."""
    try:
        low, high = (int(word) for word in path.read_text().split())
    except (OSError, ValueError):
        return None
    return low, high


def busy_port_message(busy: dict[str, int], ephemeral: tuple[int, int] | None) -> str:
    """Why the cluster cannot start: which node's port is taken, and what to do about it."""
    taken = ", ".join(f"{port} (the {name}'s)" for name, port in busy.items())
    message = (
        f"port {taken} on {HOST} in use by another program; the coordinator listens on "
        f"HANDOFF_CITUS_PORT (now {base_port()}) and worker N on that port + N: stop that "
        "program or choose other ports with HANDOFF_CITUS_PORT=PORT"
    )
    if ephemeral and any(ephemeral[0] <= port <= ephemeral[1] for port in busy.values()):
        message += (
            f" below {ephemeral[0]} (ports {ephemeral[0]}-{ephemeral[1]} are the kernel's "
            "ephemeral range: any outgoing connection may take one)"
        )
    return message


def require_free_ports(data_dir: Path, names: list[str]) -> None:
    """Fail, before any node starts, when the port of a node that is not running is taken."""
    busy = {
        name: node_port(name)
        for name in names
        if not services.pg_state(node_pgdata(data_dir, name))
        and services.port_in_use(node_port(name))
    }
    if busy:
        raise Fail(busy_port_message(busy, ephemeral_range()))


def db_url(port: int, name: str = DB_NAME, role: str = APP_ROLE) -> str:
    """DATABASE_URL (the app role's) or, with role=OWNER_ROLE, DATABASE_OWNER_URL of `name`."""
    return f"postgres://{role}@{HOST}:{port}/{name}"


def export_lines(port: int, name: str = DB_NAME) -> str:
    """The `export` lines of a database on the coordinator at `port`: the app role, the owner."""
    return (
        f"export DATABASE_URL={shlex.quote(db_url(port, name))}\n"
        f"export DATABASE_OWNER_URL={shlex.quote(db_url(port, name, OWNER_ROLE))}\n"
    )


# --- the build -------------------------------------------------------------------------------


def source_archive() -> Path:
    """The Citus source archive: $HANDOFF_CITUS_SOURCE, else shared/vendor beside the clone."""
    override = os.environ.get("HANDOFF_CITUS_SOURCE", "").strip()
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise Fail(f"HANDOFF_CITUS_SOURCE={override} is not a file")
        return path
    # The clone's parent holds shared/ (main and CI); a worktree under wt/ is one level deeper.
    for root in (REPO.parent, REPO.parent.parent):
        found = sorted((root / "shared" / "vendor").glob(ARCHIVE_GLOB))
        if found:
            return found[-1]
    raise Fail(
        f"no Citus source archive ({ARCHIVE_GLOB}) in shared/vendor beside {REPO}; "
        "set HANDOFF_CITUS_SOURCE to it"
    )


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_root() -> Path:
    """Where Citus builds are kept, outside any clone."""
    return Path(os.environ.get("HANDOFF_CITUS_CACHE", "~/.cache/handoff")).expanduser()


def server_bindir() -> Path:
    """The PostgreSQL server bin dir the cluster runs (and Citus is built for)."""
    bindir = services.find_pg_bindir(install=False)
    if bindir is None or not (bindir / "postgres").exists():
        raise Fail(
            "Citus needs a system PostgreSQL server (apt-get install postgresql); "
            "the PyPI build cannot load extensions from its own folder"
        )
    return bindir


def pg_config_value(pg_config: Path, flag: str) -> str:
    """One `pg_config --flag` answer."""
    done = services.run([str(pg_config), f"--{flag}"], capture=True, timeout=30)
    if done.returncode != 0:
        raise Fail(f"{pg_config} --{flag} failed: {done.stdout.strip()}")
    return done.stdout.strip()


def server_pg_config(bindir: Path) -> Path | None:
    """pg_config of the server's own version (postgresql-server-dev ships it in the bin dir)."""
    candidate = bindir / "pg_config"
    if candidate.exists():
        includes = Path(pg_config_value(candidate, "includedir-server"))
        if (includes / "postgres.h").exists():
            return candidate
    return None


def dpkg_version(package: str) -> str | None:
    """The installed version of a Debian package, or None."""
    done = services.run(
        ["dpkg-query", "-W", "-f=${Status} ${Version}", package], capture=True, timeout=60
    )
    if done.returncode != 0 or "install ok installed" not in done.stdout:
        return None
    return done.stdout.split()[-1]


def dpkg_installed(package: str) -> bool:
    """Whether a Debian package is installed."""
    return dpkg_version(package) is not None


def missing_build_packages(major: str) -> list[str]:
    """The Debian packages the build needs that are not installed (none off Debian).

    The server headers are pinned to the installed server's exact version: an unpinned
    postgresql-server-dev pulls in a newer postgresql-<major> too, and a server that is
    already running then fails to load the new plpgsql.so ("undefined symbol") until it is
    restarted, which would break every other database on the machine.
    """
    if not shutil.which("dpkg-query"):
        return []
    dev = f"postgresql-server-dev-{major}"
    server_pkg = dpkg_version(f"postgresql-{major}")
    missing = [package for package in BUILD_PACKAGES if not dpkg_installed(package)]
    installed_dev = dpkg_version(dev)
    if installed_dev is None or (server_pkg and installed_dev != server_pkg):
        missing.insert(0, f"{dev}={server_pkg}" if server_pkg else dev)
    return missing


def server_packages_touched(simulation: str, major: str) -> list[str]:
    """The server packages an `apt-get --simulate install` plan would replace or remove.

    Replacing postgresql-<major> under a running server breaks its next backends (they load
    the new plpgsql.so into the old binary: "undefined symbol").
    """
    server = f"postgresql-{major}"
    touched = []
    for line in simulation.splitlines():
        words = line.split()
        if len(words) < 2 or words[1] != server:
            continue
        # "Inst postgresql-15 [15.18-0+deb12u1] (15.20-0+deb12u1 …)": the installed one replaced.
        replaced = words[0] == "Inst" and len(words) > 2 and words[2].startswith("[")
        if replaced or words[0] == "Remv":
            touched.append(line.strip())
    return touched


def install_build_packages(major: str) -> None:
    """apt-get the missing build packages when we are root; otherwise say which are missing."""
    missing = missing_build_packages(major)
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Fail(f"building Citus needs these packages: {' '.join(missing)} (install as root)")
    info(f"installing {' '.join(missing)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in ("cached lists", "after apt-get update"):
        if attempt == "after apt-get update":
            services.run(["apt-get", "update", "-qq"], timeout=600)
        # --no-upgrade keeps the running server's packages as they are (see above), and a
        # dry run first makes sure no dependency replaces them either.
        cmd = ["apt-get", "install", "-y", "-qq", "--no-upgrade", *missing]
        plan = services.run([*cmd[:2], "--simulate", *cmd[2:]], capture=True, timeout=600)
        if plan.returncode != 0:
            continue
        if touched := server_packages_touched(plan.stdout, major):
            raise Fail(
                f"installing {' '.join(missing)} would also change {', '.join(touched)} under "
                "the running PostgreSQL servers; refusing (install the build packages by hand "
                "at the server's version)"
            )
        done = services.subprocess.run(
            cmd, env=env, stdin=services.subprocess.DEVNULL, stdout=sys.stderr.fileno(),
            stderr=sys.stderr.fileno(), check=False, timeout=1200,
        )  # fmt: skip
        if done.returncode == 0:
            return
    raise Fail(
        f"apt-get could not install {' '.join(missing)}: the headers must be those of the "
        "installed server (upgrade postgresql and restart its servers first if that version "
        "is no longer served)"
    )


@contextlib.contextmanager
def build_lock(sha: str) -> Iterator[None]:
    """One build (or install) at a time per archive on this machine."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"citus-{sha}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def patch_for_server_headers(source: Path, includedir_server: Path) -> None:
    """Drop Citus's PostgreSQL 15 copy of have_createdb_privilege() when the server declares it.

    Debian's PostgreSQL 15.20 exports the function from commands/dbcommands.h, and Citus
    13.2's static copy in pg_version_compat.h then no longer compiles; the server's own
    function does the same thing.
    """
    header = includedir_server / "commands" / "dbcommands.h"
    if "have_createdb_privilege" not in header.read_text(errors="replace"):
        return
    compat = source / "src" / "include" / "pg_version_compat.h"
    text = compat.read_text()
    patched, count = re.subn(
        r"\nstatic inline bool\nhave_createdb_privilege\(void\)\n\{.*?\n\}\n",
        "\n",
        text,
        flags=re.DOTALL,
    )
    if count:
        info("patched pg_version_compat.h: the server headers declare have_createdb_privilege()")
        compat.write_text(patched)


def make_env() -> dict[str, str]:
    """Environment for configure and make: C locale, no ccache surprises."""
    return {**os.environ, "LC_ALL": "C"}


def run_in(cwd: Path, cmd: list[str], log: Path) -> None:
    """Run a build step in `cwd`, appending its output to `log`; fail with the log's tail."""
    with log.open("a") as out:
        out.write(f"\n$ {shlex.join(cmd)}\n")
        out.flush()
        done = services.subprocess.run(
            cmd, cwd=cwd, env=make_env(), stdin=services.subprocess.DEVNULL, stdout=out,
            stderr=out, check=False, timeout=BUILD_TIMEOUT,
        )  # fmt: skip
    if done.returncode != 0:
        raise Fail(f"`{shlex.join(cmd)}` failed in {cwd}\n{services.log_tail(log, 30)}")


def server_version(pg_config: Path) -> str:
    """The server headers' full version ("15.18"): minor releases differ in exported symbols
    (15.20 exports have_createdb_privilege, 15.18 does not), so each gets its own build."""
    return pg_config_value(pg_config, "version").split()[1]


def build_tree(sha: str, archive: Path, pg_config: Path) -> Path:
    """The compiled source tree for this archive and server version, compiling it once."""
    version = server_version(pg_config)
    cache = cache_root() / f"citus-{sha}" / f"pg{version}"
    stamp = cache / "build.json"
    if stamp.exists():
        return cache / "src"
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    log = cache / "build.log"
    info(f"building Citus from {archive.name} for PostgreSQL {version} (log: {log})")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=cache) as scratch, tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
        (top,) = Path(scratch).iterdir()
        top.rename(cache / "src")
    source = cache / "src"
    patch_for_server_headers(source, Path(pg_config_value(pg_config, "includedir-server")))
    # No libcurl: Citus would otherwise phone home with usage statistics.
    run_in(source, ["./configure", "--without-libcurl", f"PG_CONFIG={pg_config}"], log)
    jobs = str(max(1, os.cpu_count() or 1))
    # with_llvm=no: no LLVM bitcode for JIT inlining (needs clang; Citus gains nothing from it).
    run_in(source, ["make", f"-j{jobs}", "with_llvm=no"], log)
    seconds = round(time.monotonic() - started, 1)
    stamp.write_text(
        json.dumps(
            {
                "archive": archive.name,
                "sha256": sha,
                "pg_config_version": pg_config_value(pg_config, "version"),
                "build_seconds": seconds,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        )
    )
    info(f"built Citus in {seconds:.0f} s")
    return source


def installed_matches(source: Path, pg_config: Path) -> bool:
    """Whether the installed citus.so and control file are this build's (a byte comparison)."""
    built = source / "src" / "backend" / "distributed" / "citus.so"
    installed = Path(pg_config_value(pg_config, "pkglibdir")) / "citus.so"
    control = Path(pg_config_value(pg_config, "sharedir")) / "extension" / "citus.control"
    if not (built.exists() and installed.exists() and control.exists()):
        return False
    if built.stat().st_size != installed.stat().st_size:
        return False
    return file_sha256(built) == file_sha256(installed)


def quick_installed(pg_config: Path, sha: str) -> bool:
    """The cheap check: the installed citus.so is the one recorded when this build installed it."""
    record = cache_root() / f"citus-{sha}" / f"pg{server_version(pg_config)}" / "installed.json"
    installed = Path(pg_config_value(pg_config, "pkglibdir")) / "citus.so"
    try:
        saved = json.loads(record.read_text())
        stat = installed.stat()
    except (OSError, ValueError):
        return False
    return saved == {"path": str(installed), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def ensure_built() -> dict[str, object]:
    """Build (once per archive) and install Citus unless this build is already installed."""
    archive = source_archive()
    sha = file_sha256(archive)
    bindir = server_bindir()
    major = services.pg_major(bindir)
    if major is None:
        raise Fail(f"cannot run {bindir / 'postgres'}")
    pg_config = server_pg_config(bindir)
    if pg_config and quick_installed(pg_config, sha):
        return build_summary(sha, server_version(pg_config))
    with build_lock(sha):
        install_build_packages(major)
        pg_config = server_pg_config(bindir)
        if pg_config is None:
            raise Fail(
                f"no pg_config with server headers in {bindir} (postgresql-server-dev-{major})"
            )
        source = build_tree(sha, archive, pg_config)
        if not installed_matches(source, pg_config):
            pkglibdir = Path(pg_config_value(pg_config, "pkglibdir"))
            if not os.access(pkglibdir, os.W_OK):
                raise Fail(
                    f"installing Citus writes into {pkglibdir}: run this as root "
                    "(or install the build in the cache yourself with `make install`)"
                )
            info(f"installing Citus into {pkglibdir}")
            run_in(source, ["make", "install", "with_llvm=no"], source.parent / "build.log")
        installed = Path(pg_config_value(pg_config, "pkglibdir")) / "citus.so"
        stat = installed.stat()
        record = {"path": str(installed), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        (source.parent / "installed.json").write_text(json.dumps(record))
        return build_summary(sha, server_version(pg_config))


def build_summary(sha: str, version: str) -> dict[str, object]:
    """What the cache says about the build (its time and versions)."""
    stamp = cache_root() / f"citus-{sha}" / f"pg{version}" / "build.json"
    try:
        return json.loads(stamp.read_text())
    except (OSError, ValueError):
        return {"sha256": sha}


def buildable() -> tuple[bool, str]:
    """Whether `start` can succeed here, without building anything; the reason when not."""
    try:
        archive = source_archive()
        bindir = server_bindir()
        major = services.pg_major(bindir)
        pg_config = server_pg_config(bindir)
        if pg_config and quick_installed(pg_config, file_sha256(archive)):
            return True, "installed"
        if os.geteuid() != 0:
            missing = missing_build_packages(major or "")
            if missing:
                return False, f"not root and missing build packages: {' '.join(missing)}"
            if pg_config is None:
                return False, f"no pg_config with server headers in {bindir}"
            pkglibdir = Path(pg_config_value(pg_config, "pkglibdir"))
            if not os.access(pkglibdir, os.W_OK):
                return False, f"not root: cannot install Citus into {pkglibdir}"
        elif missing_build_packages(major or "") and not shutil.which("apt-get"):
            return False, "missing build packages and no apt-get"
        if not shutil.which("make") or not (shutil.which("gcc") or shutil.which("cc")):
            return False, "no C compiler or make"
    except Fail as exc:
        return False, str(exc)
    return True, "buildable"


# --- the nodes -------------------------------------------------------------------------------


def node_home(data_dir: Path, name: str, user: str | None) -> Path:
    """The folder holding a node's data directory and log (services' temp fallback if needed)."""
    return services.pg_home_for_start(data_dir / name, user)


def node_pgdata(data_dir: Path, name: str) -> Path:
    """A node's PostgreSQL data directory, wherever an earlier start put it."""
    return services.existing_pg_home(data_dir / name) / "postgres"


def psql(port: int, sql: str, database: str = "postgres", *, check: bool = True) -> str:
    """Run SQL on a node with psql; its unaligned, tuples-only output."""
    psql_bin = server_bindir() / "psql"
    cmd = [str(psql_bin), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", HOST]
    cmd += ["-p", str(port), "-U", DB_USER, "-d", database, "-c", sql]
    done = services.run(cmd, capture=True, timeout=600)
    if check and done.returncode != 0:
        output = f"{done.stdout}{done.stderr or ''}".strip()
        raise Fail(f"SQL on port {port}/{database} failed: {sql}\n{output}")
    return done.stdout.strip()


def configured_port(pgdata: Path) -> int | None:
    """The port a node's config file (written at its last start) names, or None."""
    try:
        text = (pgdata / services.PG_CONF_NAME).read_text()
    except OSError:
        return None
    found = re.findall(r"^\s*port\s*=\s*'?(\d+)'?", text, flags=re.MULTILINE)
    return int(found[-1]) if found else None


def write_node_conf(pgdata: Path, port: int) -> int | None:
    """Write a node's config for `port`; the port it named before when that was another one.

    A node made with an older HANDOFF_CITUS_PORT (or the old default, 55480) thus follows the
    current setting on its next start, data and all.
    """
    previous = configured_port(pgdata)
    (pgdata / services.PG_CONF_NAME).write_text(NODE_CONF.format(host=HOST, port=port))
    return previous if previous not in (None, port) else None


def pg_ctl_start(bindir: Path, pgdata: Path, logfile: Path, port: int) -> list[str]:
    """The pg_ctl command that starts a node on `port`: given on the command line too, it wins
    over any `port` in the node's other config files (postgresql.auto.conf)."""
    return [
        str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(logfile), "-w", "-t", "60",
        "-o", f"-p {port}", "start",
    ]  # fmt: skip


def node_start(data_dir: Path, name: str) -> int:
    """Ensure one node runs with the Citus settings; return its port."""
    port = node_port(name)
    pgdata = node_pgdata(data_dir, name)
    if state := services.pg_state(pgdata):
        if state[1] != port:
            info(f"note: {name} listens on {state[1]}, not {port}; stop the cluster to move it")
        return state[1]
    require_free_ports(data_dir, [name])
    user = services.server_user(create=True)
    home = node_home(data_dir, name, user)
    pgdata, logfile = home / "postgres", home / "postgres.log"
    bindir = services.reachable_bindir(server_bindir(), user)
    if services.read_pg_version(pgdata) is None:
        services.init_cluster(bindir, pgdata, user)
    if previous := write_node_conf(pgdata, port):
        info(f"{name} moves from port {previous} to {port} (HANDOFF_CITUS_PORT)")
    logfile.touch()
    if user:
        services.chown_tree(pgdata, user)
        entry = pwd.getpwnam(user)
        for path in (pgdata / services.PG_CONF_NAME, logfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    (pgdata / "postmaster.pid").unlink(missing_ok=True)
    info(f"starting {name} on {HOST}:{port} (log: {logfile})")
    cmd = pg_ctl_start(bindir, pgdata, logfile, port)
    started = services.run(services.as_user(cmd, user), detach=True)
    ready = services.wait_for(lambda: services.pg_ready(bindir, port), 15, 0.3)
    if started.returncode != 0 or not ready:
        raise Fail(f"{name} did not start on port {port}\n{services.log_tail(logfile)}")
    return port


def cluster_ports(data_dir: Path) -> dict[str, int]:
    """Ports of the nodes that run from `data_dir` (by name)."""
    ports = {}
    for name in node_names(data_dir):
        if state := services.pg_state(node_pgdata(data_dir, name)):
            ports[name] = state[1]
    return ports


def quote_ident(name: str) -> str:
    """`name` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """`text` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def database_owner(port: int, database: str) -> str | None:
    """The owner of `database` on the node at `port`, or None when it does not exist there."""
    # S608: the name is quoted as a literal; psql takes no bind parameters.
    query = (
        f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = {quote_literal(database)}"  # noqa: S608
    )
    return psql(port, query) or None


def node_database(port: int, database: str) -> None:
    """On one node: the two roles, `database` owned by the owner role, the extension, `public`
    owned by the owner and closed to everyone else's CREATE (PostgreSQL < 15 opens it)."""
    psql(port, services.ROLES_SQL)
    owner = database_owner(port, database)
    if owner is None:
        psql(port, f"CREATE DATABASE {quote_ident(database)} OWNER {OWNER_ROLE}")
    elif owner != OWNER_ROLE:
        raise Fail(
            f"database {database} on port {port} belongs to {owner} (made before the roles "
            f"existed): recreate it with `scripts/citus createdb --name {database} --fresh`"
        )
    psql(port, "CREATE EXTENSION IF NOT EXISTS citus", database)
    psql(
        port,
        f"ALTER SCHEMA public OWNER TO {OWNER_ROLE}; REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        database,
    )


def moved_registrations(
    registered: list[tuple[int, int, int]], local_groups: dict[int, int]
) -> list[tuple[int, int]]:
    """(nodeid, port now) of each worker registered on a port it no longer listens on.

    `registered`: the coordinator's workers as (groupid, nodeid, nodeport); `local_groups`:
    the group each running worker says it is (its pg_dist_local_group), by the port it
    listens on now. A worker keeps its group when it moves, so the group finds its row.
    """
    port_of_group = {group: port for port, group in local_groups.items() if group > 0}
    return [
        (nodeid, port_of_group[group])
        for group, nodeid, port in registered
        if group in port_of_group and port_of_group[group] != port
    ]


def follow_moved_nodes(ports: dict[str, int], database: str) -> None:
    """Point `database`'s registration of the coordinator and of every worker at the port
    each listens on now (they move when HANDOFF_CITUS_PORT or its default changes)."""
    coordinator = ports["coordinator"]
    rows = psql(
        coordinator,
        "SELECT groupid, nodeid, nodeport FROM pg_dist_node WHERE noderole = 'primary'",
        database,
    )
    registered = [
        (int(group), int(nodeid), int(port))
        for group, nodeid, port in (line.split("|") for line in rows.splitlines() if line)
    ]
    if {port for _, _, port in registered} == set(ports.values()):
        return  # every node registered, on the port it listens on (one query: the usual case)
    registered = [row for row in registered if row[0] != 0]
    local_groups = {}
    for name, port in ports.items():
        if name == "coordinator":
            continue
        # Not there yet on a new worker: nothing of it is registered either.
        group = psql(port, "SELECT groupid FROM pg_dist_local_group", database, check=False)
        if group.isdigit():
            local_groups[port] = int(group)
    moved = moved_registrations(registered, local_groups)
    for nodeid, port in moved:
        info(f"{database}: worker node {nodeid} now listens on port {port}")
        psql(coordinator, f"SELECT citus_update_node({nodeid}, '{HOST}', {port})", database)
    if moved:
        # citus_update_node leaves the workers' copy of the metadata out of sync (the
        # maintenance daemon catches up later), and the coordinator's move below refuses
        # workers out of sync: sync them now.
        psql(coordinator, "SELECT start_metadata_sync_to_all_nodes()", database)
    # The coordinator last: it sends its move to every worker, at the port registered for it.
    psql(coordinator, f"SELECT citus_set_coordinator_host('{HOST}', {coordinator})", database)


def citus_databases(coordinator: int) -> list[str]:
    """The databases on the coordinator with the Citus extension."""
    databases = psql(
        coordinator,
        "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'",
    ).split()
    return [
        database
        for database in databases
        if psql(coordinator, "SELECT 1 FROM pg_extension WHERE extname = 'citus'", database)
    ]


def database_setup(ports: dict[str, int], database: str, *, fresh: bool = False) -> str:
    """`database` on every node (roles, owner, extension), the workers registered; the export
    lines of its two roles on the coordinator."""
    coordinator = ports["coordinator"]
    # Workers first, so the coordinator never points at a database that is not there.
    order = [name for name in ports if name != "coordinator"] + ["coordinator"]
    if fresh:
        for name in reversed(order):
            psql(ports[name], f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)")
    for name in order:
        node_database(ports[name], database)
    follow_moved_nodes(ports, database)
    psql(coordinator, f"SELECT citus_set_coordinator_host('{HOST}', {coordinator})", database)
    registered = psql(
        coordinator, "SELECT nodeport FROM pg_dist_node WHERE noderole = 'primary'", database
    ).split()
    for name in order[:-1]:
        if str(ports[name]) not in registered:
            info(f"registering {name} (port {ports[name]}) in {database}")
            psql(coordinator, f"SELECT citus_add_node('{HOST}', {ports[name]})", database)
    distribute_roles(coordinator, database)
    return export_lines(coordinator, database)


# Of the two roles, those Citus does not count among the distributed objects of a database.
UNDISTRIBUTED_ROLES_SQL = f"""
SELECT r.rolname FROM pg_roles r
WHERE r.rolname IN ('{OWNER_ROLE}', '{APP_ROLE}') AND NOT EXISTS (
    SELECT FROM pg_dist_object o WHERE o.classid = 'pg_authid'::regclass AND o.objid = r.oid)
"""  # noqa: S608 - built from this script's constants, no outside input


def distribute_roles(port: int, database: str) -> None:
    """Have Citus count the two roles among its distributed objects in `database`.

    The first time the owner creates a table in a distributed schema, Citus makes sure the
    roles that table depends on (its owner, and the app role its default privileges grant
    to) exist on every worker, by sending `worker_create_or_alter_role(…)` over the owner's
    own connection — which only a superuser may run ("must be superuser to alter superuser
    roles"). A role Citus already counts as distributed (pg_dist_object, kept per database)
    is not sent again. Handing the database to a role makes Citus distribute that role; done
    here by the superuser, in one transaction that hands it back to the owner.
    """
    missing = psql(port, UNDISTRIBUTED_ROLES_SQL, database).split()
    if not missing:
        return
    info(f"distributing the roles {', '.join(missing)} in {database}")
    name = quote_ident(database)
    # The owner last: the database stays the owner's.
    steps = [f"ALTER DATABASE {name} OWNER TO {role}" for role in (APP_ROLE, OWNER_ROLE)]
    psql(port, "BEGIN; " + "; ".join(steps) + "; COMMIT", database)


def cluster_start(data_dir: Path) -> dict[str, int]:
    """Build if needed and start every node; the ports by node name."""
    summary = ensure_built()
    info(f"Citus build {str(summary.get('sha256', ''))[:12]} is installed")
    with services.locked(data_dir):
        names = node_names(data_dir)
        require_free_ports(data_dir, names)
        moved = [
            name
            for name in names
            if not services.pg_state(node_pgdata(data_dir, name))
            and configured_port(node_pgdata(data_dir, name)) not in (None, node_port(name))
        ]
        ports = {name: node_start(data_dir, name) for name in names}
        if moved:
            # Every database still registers the moved nodes on their old ports; `start` and
            # `createdb` see to their own database in any case (database_setup).
            for database in citus_databases(ports["coordinator"]):
                follow_moved_nodes(ports, database)
        return ports


# --- commands --------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 0 when the cluster can be built and started here; print the reason otherwise."""
    ok, reason = buildable()
    print(reason)
    return 0 if ok else 3


def cmd_build(args: argparse.Namespace) -> int:
    """Build and install Citus if needed; print the build record."""
    print(json.dumps(ensure_built(), indent=2))
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    """Start the cluster and print the coordinator's DATABASE_URL as an export line."""
    ports = cluster_start(args.data_dir)
    lines = database_setup(ports, DB_NAME)
    workers = ", ".join(str(port) for port in list(ports.values())[1:])
    info(f"ready: coordinator {db_url(ports['coordinator'])}, workers on {workers}")
    sys.stdout.write(lines)
    return 0


def cmd_createdb(args: argparse.Namespace) -> int:
    """Create a database with Citus on every node of the running cluster; print its exports."""
    ports = cluster_start(args.data_dir)
    sys.stdout.write(database_setup(ports, args.name, fresh=args.fresh))
    return 0


def cmd_add_worker(args: argparse.Namespace) -> int:
    """Start the next worker node and register it in every Citus database of the cluster."""
    ports = cluster_start(args.data_dir)
    number = 1 + max(int(name[6:]) for name in ports if name != "coordinator")
    name = f"worker{number}"
    (args.data_dir / name).mkdir(parents=True, exist_ok=True)
    with services.locked(args.data_dir):
        port = node_start(args.data_dir, name)
    ports[name] = port
    for database in citus_databases(ports["coordinator"]):
        owner = database_owner(ports["coordinator"], database)
        if owner != OWNER_ROLE:
            info(f"not adding {name} to {database}: it belongs to {owner}, not {OWNER_ROLE}")
        else:
            database_setup(ports, database)
    info(f"{name} runs on port {port}; move organizations onto it with citus_schema_move()")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop every node running from the data dir (workers last)."""
    with services.locked(args.data_dir):
        for name in node_names(args.data_dir):
            pgdata = node_pgdata(args.data_dir, name)
            if state := services.pg_state(pgdata):
                info(f"stopping {name} (pid {state[0]}, port {state[1]})")
                services.signal_process(state[0], services.signal.SIGINT, f"Citus {name}")
                if not services.wait_for(lambda s=state: not services.pid_alive(s[0]), 60, 0.1):
                    raise Fail(f"{name} (pid {state[0]}) did not stop within 60 s")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Show each node, and the workers the coordinator knows; 0 when all run."""
    ports = cluster_ports(args.data_dir)
    for name in node_names(args.data_dir):
        where = node_pgdata(args.data_dir, name)
        state = f"running on port {ports[name]}" if name in ports else "stopped"
        print(f"{name:12} {state:22} data {where}")
    if "coordinator" in ports:
        nodes = psql(
            ports["coordinator"],
            "SELECT nodename || ':' || nodeport || ' ' || noderole || "
            "CASE WHEN isactive THEN '' ELSE ' (inactive)' END FROM pg_dist_node ORDER BY nodeid",
            DB_NAME,
            check=False,
        )
        print(f"registered in {DB_NAME}: {', '.join(nodes.splitlines()) or 'none'}")
    return 0 if len(ports) == len(node_names(args.data_dir)) else 3


def cmd_env(args: argparse.Namespace) -> int:
    """Print the coordinator's export lines without starting anything."""
    port = cluster_ports(args.data_dir).get("coordinator", node_port("coordinator"))
    sys.stdout.write(export_lines(port))
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="citus", description="A local Citus cluster for Handoff.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=lambda value: Path(value).expanduser().resolve(),
        default=DEFAULT_DATA_DIR,
        help=f"where the nodes keep their data (default: {DEFAULT_DATA_DIR})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, func, text in (
        ("check", cmd_check, "can Citus be built or is it installed?"),
        ("build", cmd_build, "build and install Citus if needed"),
        ("start", cmd_start, "start the cluster, print the export lines"),
        ("add-worker", cmd_add_worker, "start and register one more worker"),
        ("stop", cmd_stop, "stop the cluster"),
        ("status", cmd_status, "show the nodes"),
        ("env", cmd_env, "print the export lines without starting anything"),
    ):
        commands.add_parser(name, parents=[common], help=text).set_defaults(func=func)
    createdb = commands.add_parser("createdb", parents=[common], help="a database on the cluster")
    createdb.add_argument("--name", required=True)
    createdb.add_argument("--fresh", action="store_true", help="drop it first")
    createdb.set_defaults(func=cmd_createdb)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: expected failures become one message and exit status 1."""
    args = parse_args(argv)
    try:
        return args.func(args)
    except Fail as exc:
        print(f"citus: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"citus: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
