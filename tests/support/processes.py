"""Start the project's own processes (web server, Celery worker) against the test database."""

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from tests.support.clock import is_shifted
from tests.support.database import app_database_url, owner_database_url

ROOT = Path(__file__).resolve().parents[2]
# Settings of abuse limits that tests/conftest.py relaxes for the whole session.
SESSION_LIMITS = (
    "API_RATE_PER_TOKEN",
    "API_RATE_PER_ORGANIZATION",
    "API_RATE_ANONYMOUS",
    "API_RATE_FAILED_TOKENS",
    "SIGNUP_RATE_PER_ADDRESS",
)


def python_argv(*args: str) -> list[str]:
    """argv to run a Python program, on the session's shifted clock when there is one."""
    if is_shifted():
        return [sys.executable, "-m", "tests.support.shifted", *args]
    return [sys.executable, *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    """The test database as the app role (what the started processes connect as)."""
    return app_database_url()


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        DATABASE_OWNER_URL=owner_database_url(),
        REDIS_URL=settings.CELERY_BROKER_URL,
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
        # The session's own cache namespace: rate-limit counters left in the shared Redis by
        # earlier runs (signups, failed tokens from 127.0.0.1) do not reach this one.
        CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
    )
    # ... and the session's generous limits (tests/conftest.py): the counters are shared by
    # every process of the session, all calling from 127.0.0.1, so one test's signups or
    # requests must not use up another's. A test that exercises a limit passes its own.
    env.update({name: getattr(settings, name) for name in SESSION_LIMITS})
    env.update(extra)
    return env


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"port {port} never opened:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def live_server(tmp_path: Path, **env: str):
    """A real web server (Django's threaded runserver, DEBUG on for static files) on a free port."""
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            python_argv("manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env(DJANGO_DEBUG="true", SITE_PORT=str(port), SITE_SCHEME="http", **env),
        )
    try:
        wait_for_port(port, proc, log)
        yield port
    finally:
        stop(proc)


@contextmanager
def celery_worker(tmp_path: Path, *, name: str = "w1", beat: bool = False, **env: str):
    """A real Celery worker process (solo pool), optionally with an embedded beat scheduler."""
    log = tmp_path / f"worker-{name}.log"
    argv = python_argv(
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
    )
    if beat:
        argv += ["-B", "-s", str(tmp_path / f"beat-{name}")]
    with log.open("w") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=child_env(**env)
        )
    try:
        yield proc, log
    finally:
        stop(proc)


def wait_until(
    predicate, *, timeout: float = 30, interval: float = 0.25, message: str = "condition"
):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
