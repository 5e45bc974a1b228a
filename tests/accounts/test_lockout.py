"""Brute force on the sign-in form is locked out after a handful of tries, per account and
per client address; the owner gets an unlock link by e-mail."""

import re

from django.conf import settings
from django.test import Client

from apps.accounts.models import AuditEvent

PASSWORD = "correct-horse-battery-9"
LIMIT = settings.AXES_FAILURE_LIMIT


def _login(client: Client, email: str, password: str, ip: str = "10.1.0.1"):
    return client.post(
        "/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def test_wrong_passwords_lock_the_account_even_for_the_right_one(
    anon_client, make_user, mailoutbox
):
    make_user("rep", email="victim@x.test")
    statuses = [
        _login(anon_client, "victim@x.test", f"guess-{n}").status_code for n in range(LIMIT)
    ]
    assert statuses[: LIMIT - 1] == [200] * (LIMIT - 1)  # the form again, with its error
    assert statuses[-1] == 429  # the try that reaches the limit is answered with the lockout
    locked = _login(anon_client, "victim@x.test", PASSWORD)
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    assert "_auth_user_id" not in anon_client.session
    # From another address too: the account itself is locked.
    other = _login(Client(HTTP_HOST="acme.localhost"), "VICTIM@x.test", PASSWORD, ip="10.9.9.9")
    assert other.status_code == 429
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["victim@x.test"]
    assert AuditEvent.objects.filter(action="login.locked_out", target="victim@x.test").exists()


def test_the_unlock_link_lifts_the_lock(anon_client, make_user, mailoutbox):
    make_user("rep", email="owner@x.test")
    for n in range(LIMIT + 3):
        _login(anon_client, "owner@x.test", f"guess-{n}")
    assert len(mailoutbox) == 1, "one e-mail per lockout, not one per try"
    link = re.search(r"https?://\S+", mailoutbox[0].body).group(0)
    path = link.split("localhost", 1)[1].split(":8000", 1)[-1]
    response = anon_client.get(path, REMOTE_ADDR="10.1.0.1")
    assert response.status_code == 302 and response["Location"].endswith("/accounts/login/")
    assert _login(anon_client, "owner@x.test", PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(action="login.unlocked", target="owner@x.test").exists()


def test_an_invalid_unlock_link_is_404(anon_client):
    assert anon_client.get("/accounts/unlock/forged-token/").status_code == 404


def test_one_address_trying_many_accounts_is_locked_out(anon_client, make_user, mailoutbox):
    for n in range(LIMIT):
        make_user("rep", email=f"spray{n}@x.test")
    for n in range(LIMIT):
        _login(anon_client, f"spray{n}@x.test", "Winter2026!", ip="10.2.0.7")
    make_user("rep", email="innocent@x.test")
    # The address is locked: even a right password from it is refused for now...
    assert _login(anon_client, "innocent@x.test", PASSWORD, ip="10.2.0.7").status_code == 429
    # ...while the account itself still opens from elsewhere.
    elsewhere = Client(HTTP_HOST="acme.localhost")
    assert _login(elsewhere, "innocent@x.test", PASSWORD, ip="10.3.0.1").status_code == 302


def test_a_good_sign_in_resets_the_count(anon_client, make_user):
    make_user("rep", email="typo@x.test")
    for _ in range(LIMIT - 1):
        _login(anon_client, "typo@x.test", "typo")
    assert _login(anon_client, "typo@x.test", PASSWORD).status_code == 302
    anon_client.post("/accounts/logout/")
    for _ in range(LIMIT - 1):
        assert _login(anon_client, "typo@x.test", "typo").status_code == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_lock(anon_client, make_user):
    make_user("rep", email="spoof@x.test")
    for n in range(LIMIT + 2):
        anon_client.post(
            "/accounts/login/",
            {"username": f"other{n}@x.test", "password": "x"},
            REMOTE_ADDR="10.4.0.1",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    # Every try counted against the real address, whatever the header claimed.
    locked = anon_client.post(
        "/accounts/login/",
        {"username": "spoof@x.test", "password": PASSWORD},
        REMOTE_ADDR="10.4.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    assert locked.status_code == 429
