"""Production settings pass Django's deployment checklist; secrets come only from the environment."""

import subprocess
import sys

from tests.support.processes import ROOT

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "x" * 64 + "-production-like-secret-for-the-check",
    "BASE_DOMAIN": "handoff.example.com",
    "DATABASE_URL": "postgres://handoff_app:p@db.example.com:5432/handoff",
    "DATABASE_OWNER_URL": "postgres://handoff_owner:q@db.example.com:5432/handoff",
    "SLA_SIGNING_KEYS": "2027-01:" + "k" * 48 + ",2026-06:" + "j" * 48,
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "PATH": "/usr/bin:/bin",
}


def test_check_deploy_passes_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=PRODUCTION,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def _check(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_signing_keys():
    result = _check({k: v for k, v in PRODUCTION.items() if k != "SLA_SIGNING_KEYS"})
    assert result.returncode != 0
    assert "SLA_SIGNING_KEYS" in result.stderr


def test_unusable_signing_keys_are_a_clear_error():
    result = _check({**PRODUCTION, "SLA_SIGNING_KEYS": "k1:short"})
    assert result.returncode != 0
    assert "sla.E001" in result.stderr and "too short" in result.stderr


def test_the_deploy_check_warns_when_one_role_owns_and_runs_everything():
    env = {k: v for k, v in PRODUCTION.items() if k != "DATABASE_OWNER_URL"}
    result = _check(env, "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "tenants.W001" in result.stdout + result.stderr
