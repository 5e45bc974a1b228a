"""Browser journey with a real worker: upload a CSV, map it, watch the progress bar, read the report."""

import re
import uuid

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from apps.accounts.models import User
from apps.leads.models import FieldMapping, ImportJob, Lead
from tests.leads.committed import committed
from tests.support.browser import chromium, screenshot
from tests.support.processes import celery_worker, live_server

pytestmark = [pytest.mark.browser, pytest.mark.worker]

PASSWORD = "amber-harbor-42"


def test_import_wizard_runs_in_the_worker(acme, tmp_path):
    # The live server and the worker see only committed rows: the user is committed on a
    # separate connection (tests/leads/committed.py) and, with what it imported, cleaned up after.
    tag = uuid.uuid4().hex[:6]
    ids = [f"b{tag}-1", f"b{tag}-2", f"b{tag}-3"]
    csv_file = tmp_path / "hubspot-export.csv"
    csv_file.write_text(
        "Record ID,First Name,Last Name,Email,Number of Employees,Country/Region,Create Date\n"
        f"{ids[0]},Ana,Silva,ana.{tag}@example.com,500-1000,Germany,2025-01-05 09:30\n"
        f"{ids[1]},Bo,Chen,bo.{tag}@example.com,25,Singapore,2025-01-06 10:00\n"
        f"{ids[2]},Cy,Do,not-an-email,10,France,2025-01-07\n"
    )
    email = f"importer-{tag}@acme.test"

    def create():
        user = User.objects.create_user(email, name="Ima Porter", role="marketing_leader")
        # Hashed for the live server's hashers (the test settings use a fast MD5 one).
        hasher = PBKDF2PasswordHasher()
        user.password = hasher.encode(PASSWORD, hasher.salt())
        user.save(update_fields=["password"])
        return FieldMapping.objects.filter(source="csv").exists()

    def remove():
        ImportJob.objects.filter(created_by__email=email).delete()
        Lead.objects.filter(external_id__in=ids).delete()
        if not had_mapping:
            FieldMapping.objects.filter(source="csv").delete()
        # The import and the mapping are in the audit log, which is append-only and keeps its
        # actor: the importer is deactivated rather than deleted.
        User.objects.filter(email=email).update(is_active=False)

    had_mapping = committed(acme.schema_name, create)
    try:
        with (
            live_server(tmp_path) as port,
            celery_worker(tmp_path, name="imports") as (_proc, log),
            chromium() as browser,
        ):
            base = f"http://acme.localhost:{port}"
            page = browser.new_page()
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", email)
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")

            page.goto(f"{base}/leads/import/")
            page.set_input_files("#id_file", str(csv_file))
            page.click("text=Upload and preview")
            page.wait_for_url(re.compile(r".*/leads/import/\d+/$"))
            assert page.input_value("#map-0") == "external_id"
            assert page.input_value("#map-4") == "company_size"
            assert "Ana" in page.inner_text("main")
            screenshot(page, "leads-import-mapping")

            page.click("text=Import 3 rows")
            page.wait_for_selector("text=Import finished", timeout=60_000)
            assert page.inner_text("#count-created") == "2"
            assert page.inner_text("#count-rejected") == "1"
            report = page.inner_text("#import-progress")
            assert "not-an-email" in report and "4" in report
            screenshot(page, "leads-import-report")

            page.goto(f"{base}/leads/")
            assert "Bo Chen" in page.inner_text("#results")
            page.fill("#id_q", "Silva")
            page.wait_for_selector("text=Bo Chen", state="detached")  # htmx narrowed the list
            assert "q=Silva" in page.get_attribute("#export-link", "href")
            screenshot(page, "leads-list")
            page.click("text=Ana Silva")
            assert "Lead created" in page.inner_text("main")
            assert "500" in page.inner_text("main")
            screenshot(page, "leads-detail")
        job = ImportJob.objects.get(filename="hubspot-export.csv", created_by__email=email)
        assert (job.status, job.created, job.rejected) == ("done", 2, 1), log.read_text()[-2000:]
        assert Lead.objects.get(external_id=ids[0]).country == "DE"
    finally:
        committed(acme.schema_name, remove)
