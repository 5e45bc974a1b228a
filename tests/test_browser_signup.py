"""Browser journey: sign up an organization, land on its subdomain, invite a rep, log in as the rep."""

import re
from urllib.parse import urlsplit

import pytest

from tests.support.browser import chromium, screenshot
from tests.support.processes import celery_worker, live_server, wait_until

pytestmark = [pytest.mark.browser]


def _invitation_link(mail_dir) -> str:
    bodies = "".join(p.read_text() for p in sorted(mail_dir.glob("*.log")))
    links = re.findall(r"http://\S+/accounts/invitation/\S+/", bodies)
    assert links, f"no invitation email in {mail_dir}: {bodies[:500]}"
    return links[-1]


def _confirmation_link(mail_dir) -> str:
    bodies = "".join(p.read_text() for p in sorted(mail_dir.glob("*.log")))
    links = re.findall(r"http://\S+/signup/verify/\S+/", bodies)
    return links[-1] if links else ""


def test_signup_invite_and_rep_login(db, tmp_path):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    mail = {"EMAIL_URL": "filemail://", "EMAIL_FILE_PATH": str(mail_dir)}
    with (
        live_server(tmp_path, **mail) as port,
        celery_worker(tmp_path, **mail),
        chromium() as browser,
    ):
        page = browser.new_page()
        page.goto(f"http://localhost:{port}/signup/")
        page.fill("#id_name", "Nova Robotics")
        page.fill("#id_subdomain", "www")  # reserved: the form must say so
        page.fill("#id_admin_name", "Nia Admin")
        page.fill("#id_admin_email", "nia@nova.test")
        page.fill("#id_admin_password", "silver-meadow-53")
        page.click("button[type=submit]")
        assert "is reserved" in page.inner_text("form")

        page.fill("#id_subdomain", "nova")
        page.fill("#id_admin_password", "silver-meadow-53")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Check your inbox")
        assert "nia@nova.test" in page.inner_text("main")
        # The e-mailed link confirms the address; a worker sets the organization up while
        # the page shows the progress, then signs this browser in on the new host.
        link = wait_until(lambda: _confirmation_link(mail_dir), message="the confirmation e-mail")
        page.goto(link)
        page.wait_for_url(
            re.compile(r"http://nova\.localhost:\d+/accounts/users/"), timeout=120_000
        )
        assert urlsplit(page.url).hostname == "nova.localhost"
        assert "Welcome to Nova Robotics" in page.inner_text("main")

        page.fill("#id_email", "riley@nova.test")
        page.fill("#id_name", "Riley Rep")
        page.select_option("#id_role", "rep")
        page.click("text=Send invitation")
        assert "Invitation sent to riley@nova.test" in page.inner_text("main")
        assert "riley@nova.test" in page.inner_text("table")
        screenshot(page, "users-page")

        link = _invitation_link(mail_dir)
        assert urlsplit(link).hostname == "nova.localhost"
        rep = browser.new_context().new_page()
        rep.goto(link)
        assert "Sales rep" in rep.inner_text("main")
        rep.fill("#id_name", "Riley Brooks")
        rep.fill("#id_password", "copper-valley-19")
        rep.fill("#id_password_again", "copper-valley-19")
        rep.click("button[type=submit]")
        rep.wait_for_url(re.compile(r"http://nova\.localhost:\d+/$"))
        assert "Sales rep at Nova Robotics" in rep.inner_text("main")  # the rep's landing page
        assert "Users" not in rep.inner_text("header")

        rep.click("text=Log out")
        rep.goto(f"http://nova.localhost:{port}/accounts/login/")
        rep.fill("#id_username", "riley@nova.test")
        rep.fill("#id_password", "copper-valley-19")
        rep.click("button[type=submit]")
        rep.wait_for_url(re.compile(r"http://nova\.localhost:\d+/$"))
        assert "Hello, Riley" in rep.inner_text("main")
        # The rep cannot open the admin's page, even by URL.
        denied = rep.goto(f"http://nova.localhost:{port}/accounts/users/")
        assert denied.status == 403
