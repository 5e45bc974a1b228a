import re
import uuid
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.tenants import services
from apps.tenants.models import Organization, SignupRequest
from apps.tenants.services import PROVISION_TASK
from config.celery_app import app as celery_app


def test_landing_page_explains_and_links_to_signup(public_client):
    response = public_client.get("/")
    assert response.status_code == 200
    assert b'href="/signup/"' in response.content


def test_signup_form_shows_field_errors(public_client):
    response = public_client.post(
        "/signup/",
        {
            "name": "X",
            "subdomain": "www",
            "admin_name": "A",
            "admin_email": "a@b.test",
            "admin_password": "123",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "reserved" in errors["subdomain"][0]
    assert not Organization.objects.filter(name="X").exists()


SIGNUP = {
    "name": "Orbit",
    "subdomain": "orbit",
    "admin_name": "Olu Admin",
    "admin_email": "olu@orbit.test",
    "admin_password": "quiet-lantern-88",
}


def _confirmation_path(mailoutbox) -> str:
    link = re.search(r"https?://\S+/signup/verify/\S+/", mailoutbox[-1].body).group(0)
    return urlsplit(link).path


def test_signup_asks_to_confirm_the_email_and_creates_nothing_yet(
    public_client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = public_client.post("/signup/", SIGNUP)
    assert response.status_code == 302
    progress = public_client.get(response["Location"])
    assert b"Check your inbox" in progress.content and b"olu@orbit.test" in progress.content
    assert not Organization.objects.filter(subdomain="orbit").exists()
    assert mailoutbox[0].to == ["olu@orbit.test"]
    signup = SignupRequest.objects.get(subdomain="orbit")
    assert signup.status == "awaiting_email" and signup.admin_password_hash.startswith("md5$")
    assert "quiet-lantern-88" not in mailoutbox[0].body


def test_the_confirmed_browser_is_signed_in_once_the_worker_is_done(
    public_client, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        celery_app,
        "send_task",
        lambda name, args, **options: queued.append(args[0]) if name == PROVISION_TASK else None,
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = public_client.post("/signup/", SIGNUP)
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = public_client.get(_confirmation_path(mailoutbox))
    assert confirmed.status_code == 302 and confirmed["Location"] == first["Location"]
    signup = SignupRequest.objects.get(subdomain="orbit")
    assert queued == [signup.pk] and signup.status == "queued"
    waiting = public_client.get(first["Location"], HTTP_HX_REQUEST="true")
    assert (
        b"Waiting for a worker" in waiting.content and b'hx-trigger="every 1s"' in waiting.content
    )

    services.signup_provision(signup_id=signup.pk)  # what the worker runs
    done = public_client.get(first["Location"], HTTP_HX_REQUEST="true")
    target = urlsplit(done["HX-Redirect"])
    assert target.hostname == "orbit.localhost" and target.path == "/accounts/welcome/"
    browser = Client(HTTP_HOST="orbit.localhost")
    landed = browser.get(f"{target.path}?{target.query}", follow=True)
    assert landed.redirect_chain[-1][0] == "/accounts/users/"
    assert landed.context["user"].email == "olu@orbit.test"
    with schema_context("orbit"):
        assert User.objects.get(email="olu@orbit.test").check_password("quiet-lantern-88")
    # Another browser with the progress link (but not the confirmation) is only told to sign in.
    other = Client(HTTP_HOST="localhost").get(first["Location"])
    assert other.status_code == 200 and b"Sign in at orbit" in other.content
    # Following the confirmation link again changes nothing.
    assert public_client.get(_confirmation_path(mailoutbox)).status_code == 302
    assert len(queued) == 1


def test_an_unknown_confirmation_link_is_404(public_client):
    assert public_client.get("/signup/verify/forged/").status_code == 404


def test_a_taken_subdomain_fails_the_signup_with_a_message(
    public_client, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(celery_app, "send_task", lambda *a, **k: None)
    with django_capture_on_commit_callbacks(execute=True):
        first = public_client.post("/signup/", {**SIGNUP, "subdomain": "comet"})
        public_client.post(
            "/signup/", {**SIGNUP, "subdomain": "comet", "admin_email": "b@comet.test"}
        )
    links = [
        urlsplit(re.search(r"https?://\S+/signup/verify/\S+/", m.body).group(0)).path
        for m in mailoutbox
    ]
    with django_capture_on_commit_callbacks(execute=True):
        public_client.get(links[0])
        public_client.get(links[1])
    winner, loser = SignupRequest.objects.filter(subdomain="comet").order_by("id")
    assert services.signup_provision(signup_id=winner.pk).status == "ready"
    assert services.signup_provision(signup_id=loser.pk).status == "failed"
    loser.refresh_from_db()
    assert "already taken" in loser.failure
    page = public_client.get(f"/signup/{loser.public_id}/")
    assert b"could not be set up" in page.content and b"already taken" in page.content
    assert first.status_code == 302


def test_signups_are_limited_per_address(public_client, settings, mailoutbox):
    settings.SIGNUP_RATE_PER_ADDRESS = "2/hour"
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"signup-{uuid.uuid4().hex}"}
    }
    statuses = [
        public_client.post(
            "/signup/", {**SIGNUP, "subdomain": f"limit{n}"}, REMOTE_ADDR="10.5.0.1"
        ).status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 429]
    assert SignupRequest.objects.filter(subdomain__startswith="limit").count() == 2
    assert (
        public_client.post(
            "/signup/", {**SIGNUP, "subdomain": "limit9"}, REMOTE_ADDR="10.5.0.2"
        ).status_code
        == 302
    )


def test_handoff_link_of_one_org_does_not_work_on_another(public_client):
    from apps.accounts.views import signup_handoff_token

    organization = services.organization_create(
        # Not comet: creating an organization commits (as the owner role), and the taken-
        # subdomain test above leaves comet behind for the rest of the session.
        **{**SIGNUP, "subdomain": "meteor", "name": "Meteor"}
    )
    with schema_context(organization.schema_name):
        token = signup_handoff_token(User.objects.get())
    other = Client(HTTP_HOST="acme.localhost").get(f"/accounts/welcome/?t={token}")
    assert other.status_code == 404


@pytest.mark.parametrize("host", ["nowhere.localhost", "evil.example.com"])
def test_unknown_hosts_get_404_or_400(db, host):
    response = Client(HTTP_HOST=host).get("/")
    assert response.status_code in (400, 404)
