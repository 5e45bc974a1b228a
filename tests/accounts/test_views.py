import re
from urllib.parse import urlsplit

from django.test import Client

from apps.accounts.models import ApiKey, User


def test_admin_invites_from_the_users_page(
    client_as, mailoutbox, django_capture_on_commit_callbacks
):
    admin = client_as("admin")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/accounts/users/", {"email": "sdr@x.test", "name": "Sid", "role": "rep"}, follow=True
        )
    assert "Invitation sent to sdr@x.test" in response.content.decode()
    assert User.objects.get(email="sdr@x.test").role == "rep"
    link = re.search(r"https?://\S+", mailoutbox[0].body).group(0)
    path = urlsplit(link).path

    browser = Client(HTTP_HOST="acme.localhost")
    page = browser.get(path)
    assert page.status_code == 200 and b"Sales rep" in page.content
    done = browser.post(
        path,
        {"name": "Sid Vee", "password": "amber-kettle-31", "password_again": "amber-kettle-31"},
        follow=True,
    )
    assert done.context["user"].email == "sdr@x.test"
    assert browser.get(path).status_code == 404  # used


def test_invite_form_errors_are_shown(client_as):
    admin = client_as("admin")
    response = admin.post("/accounts/users/", {"email": admin.user.email, "role": "rep"})
    assert response.status_code == 200
    assert "already belongs" in response.content.decode()


def test_role_change_inline_with_htmx_returns_the_row(client_as, make_user):
    admin = client_as("admin")
    rep = make_user("rep")
    response = admin.post(
        f"/accounts/users/{rep.pk}/",
        {"role": "marketer", "is_active": "on"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="user-{rep.pk}"')
    assert "Saved" in html
    rep.refresh_from_db()
    assert rep.role == "marketer"


def test_inline_error_keeps_the_row_and_says_why(client_as):
    admin = client_as("admin")
    response = admin.post(
        f"/accounts/users/{admin.user.pk}/", {"role": "admin"}, HTTP_HX_REQUEST="true"
    )
    # 409 (a conflict with the organization's state), as a fragment the page swaps in.
    assert response.status_code == 409
    assert "cannot deactivate yourself" in response.content.decode()
    admin.user.refresh_from_db()
    assert admin.user.is_active


def test_api_key_page_creates_shows_once_and_revokes(client_as):
    admin = client_as("admin")
    created = admin.post("/accounts/api-keys/", {"name": "Salesforce"})
    token = re.search(r"hk_[0-9a-f]{12}_[\w-]+", created.content.decode()).group(0)
    assert admin.get("/accounts/api-keys/").content.decode().count(token) == 0
    key = ApiKey.objects.get(name="Salesforce")
    assert (key.scopes, key.expires_at) == (["read", "write"], None)
    admin.post(f"/accounts/api-keys/{key.pk}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None
    admin.post("/accounts/api-keys/", {"name": "Reader", "scopes": ["read"], "expires_in_days": 30})
    reader = ApiKey.objects.get(name="Reader")
    assert reader.scopes == ["read"] and reader.expires_at is not None


def test_profile_creates_scoped_tokens_and_revokes_them(client_as):
    leader = client_as("sales_leader")
    page = leader.get("/accounts/profile/").content.decode()
    assert 'value="sign"' in page and 'value="admin"' not in page
    created = leader.post(
        "/accounts/profile/", {"name": "Signer", "scopes": ["read", "sign"], "expires_in_days": 1}
    )
    assert created.status_code == 200
    token = re.search(r"hk_[0-9a-f]{12}_[\w-]+", created.content.decode()).group(0)
    key = ApiKey.objects.get(name="Signer", user=leader.user)
    assert token.startswith(f"hk_{key.prefix}_") and key.scopes == ["read", "sign"]
    refused = leader.post(
        "/accounts/profile/", {"name": "Boss", "scopes": ["admin"], "expires_in_days": 1}
    )
    assert refused.status_code == 400
    leader.post(f"/accounts/profile/tokens/{key.pk}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None
    other = client_as("rep")
    assert other.post(f"/accounts/profile/tokens/{key.pk}/revoke/").status_code == 404


def test_navigation_fits_the_role(client_as):
    admin_nav = client_as("admin").get("/").content.decode()
    rep_nav = client_as("rep").get("/").content.decode()
    assert 'href="/accounts/users/"' in admin_nav
    assert 'href="/accounts/users/"' not in rep_nav
    assert 'href="/accounts/api-keys/"' not in rep_nav


def test_password_reset_sends_a_link(anon_client, make_user, mailoutbox):
    user = make_user("rep", email="forgot@x.test")
    anon_client.post("/accounts/password-reset/", {"email": "forgot@x.test"})
    assert len(mailoutbox) == 1
    link = re.search(r"https?://\S+", mailoutbox[0].body).group(0)
    path = urlsplit(link).path
    step = anon_client.get(path, follow=True)
    confirm_url = step.redirect_chain[-1][0]
    anon_client.post(
        confirm_url, {"new_password1": "violet-harbor-64", "new_password2": "violet-harbor-64"}
    )
    user.refresh_from_db()
    assert user.check_password("violet-harbor-64")


def test_login_and_logout(anon_client, make_user):
    make_user("rep", email="in@x.test")
    bad = anon_client.post("/accounts/login/", {"username": "in@x.test", "password": "wrong"})
    assert bad.status_code == 200 and bad.context["user"].is_anonymous
    ok = anon_client.post(
        "/accounts/login/", {"username": "in@x.test", "password": "correct-horse-battery-9"}
    )
    assert ok.status_code == 302
    assert anon_client.get("/").status_code == 200
    anon_client.post("/accounts/logout/")
    assert anon_client.get("/").status_code == 302
