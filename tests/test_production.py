"""Production starts: DJANGO_DEBUG=false, a secret key, collectstatic into a fresh folder,
gunicorn; the login page, a signed-in page and the API answer 200 with the security headers.

Requests carry `X-Forwarded-Proto: https`, as the load balancer in front of production does
(SECURE_PROXY_SSL_HEADER), so the server treats them as HTTPS: no redirect, secure cookies.
"""

import re
import subprocess
import time

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from apps.accounts.services import api_key_create, user_create
from tests.leads.committed import committed
from tests.support.database import committed_user_delete
from tests.support.processes import ROOT, child_env, free_port, python_argv, stop, wait_for_port

PASSWORD = "production-smoke-2026"
SECRET = "k" * 64 + "-production-smoke-test-secret"
pytestmark = pytest.mark.worker  # starts its own server process, like the worker tests


def production_env(static_root) -> dict[str, str]:
    return child_env(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=SECRET,
        # Production has no derived default for the sign-off keys (apps/sla/sealing.py).
        SLA_SIGNING_KEYS="smoke:" + "s" * 48,
        DJANGO_STATIC_ROOT=str(static_root),
        BASE_DOMAIN="localhost",
    )


@pytest.fixture
def smoke_user(acme):
    def make():
        user = user_create(email="smoke@acme.test", name="Smoke Tester", role="admin")
        # Hashed with production's hasher: the test session itself uses a fast MD5 one.
        hasher = PBKDF2PasswordHasher()
        user.password = hasher.encode(PASSWORD, hasher.salt())
        user.save(update_fields=["password"])
        _, token = api_key_create(name="smoke", created_by=user, user=user)
        return token

    token = committed(acme.schema_name, make)
    yield token
    committed_user_delete(acme.schema_name, "smoke@acme.test")


def cookie_header(*responses) -> str:
    jar = {}
    for response in responses:
        jar.update(response.cookies.get_dict())
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def test_production_serves_pages_static_files_and_the_api(tmp_path, smoke_user):
    static_root = tmp_path / "static"
    collect = subprocess.run(
        python_argv("manage.py", "collectstatic", "--noinput", "-v", "0"),
        cwd=ROOT,
        env=production_env(static_root),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert collect.returncode == 0, collect.stderr[-3000:]
    assert (static_root / "staticfiles.json").exists()

    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            python_argv(
                "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--threads", "2", "--access-logfile", "-",
            ),
            cwd=ROOT,
            env=production_env(static_root),
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for_port(port, proc, log, timeout=60)
        origin = f"https://acme.localhost:{port}"
        base = f"http://127.0.0.1:{port}"
        headers = {"Host": f"acme.localhost:{port}", "X-Forwarded-Proto": "https"}

        def get(path, **extra):
            return requests.get(
                base + path, headers={**headers, **extra}, allow_redirects=False, timeout=30
            )

        login = get("/accounts/login/")
        assert login.status_code == 200, log.read_text()[-3000:]
        for name, expected in {
            "Strict-Transport-Security": "max-age=",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Permissions-Policy": "camera=()",
        }.items():
            assert expected in login.headers.get(name, ""), (name, login.headers.get(name))
        csp = login.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-eval" not in csp
        assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "Secure" in login.headers["Set-Cookie"]

        # The page links the hashed static files, and they are served.
        stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]+\.css)"', login.text).group(1)
        assert get(stylesheet).status_code == 200
        script = re.search(r'src="(/static/vendor/htmx/htmx\.min\.[0-9a-f]+\.js)"', login.text)
        assert script and get(script.group(1)).status_code == 200

        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        signed_in = requests.post(
            base + "/accounts/login/",
            data={
                "csrfmiddlewaretoken": token,
                "username": "smoke@acme.test",
                "password": PASSWORD,
            },
            headers={
                **headers,
                "Cookie": cookie_header(login),
                "Origin": origin,
                "Referer": origin + "/accounts/login/",
            },
            allow_redirects=False,
            timeout=30,
        )
        assert signed_in.status_code == 302, log.read_text()[-3000:]
        home = get("/", Cookie=cookie_header(login, signed_in))
        assert home.status_code == 200 and "Smoke Tester" in home.text
        assert "Content-Security-Policy" in home.headers

        api = get("/api/v1/me/", Authorization=f"Bearer {smoke_user}")
        assert api.status_code == 200 and api.json()["email"] == "smoke@acme.test"
        assert "Strict-Transport-Security" in api.headers

        docs = get("/api/docs/")
        assert docs.status_code == 200 and "<script>" not in docs.text

        # Plain HTTP (no proxy header) is sent to HTTPS.
        plain = requests.get(
            base + "/accounts/login/",
            headers={"Host": f"acme.localhost:{port}"},
            allow_redirects=False,
            timeout=30,
        )
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    finally:
        stop(proc)
        time.sleep(0.1)
