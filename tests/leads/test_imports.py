"""CSV import: reading files, mapping columns, importing row by row with line numbers, the wizard."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.accounts.exceptions import DomainError
from apps.handoff import channels
from apps.leads import csv_rows, services
from apps.leads.crm_payloads import hubspot_records, salesforce_records
from apps.leads.field_mapping import apply_mapping, guess_mapping
from apps.leads.models import FieldMapping, ImportJob, Lead
from apps.leads.tasks import lead_import_run_task
from config.celery_app import app as celery_app

HUBSPOT_EXPORT = (
    "Record ID,First Name,Last Name,Email,Job Title,Company Name,Number of Employees,"
    "Country/Region,Original Source,Lifecycle Stage,Create Date\n"
    "101,Ana,Silva,ana@example.com,VP Marketing,Example GmbH,500-1000,Germany,PAID_SEARCH,salesqualifiedlead,2025-01-05 09:30\n"
    "102,Bo,Chen,bo@example.com,Analyst,Chen Ltd,25,Singapore,ORGANIC_SEARCH,lead,2025-01-06 10:00\n"
)


def start(job, **overrides):
    options = {
        "mapping": job.mapping,
        "encoding": job.encoding,
        "date_order": "iso",
        "time_zone": "UTC",
        "actor": None,
    }
    options.update(overrides)
    return services.import_job_start(job=job, **options)


def run_import(content: bytes, **overrides) -> ImportJob:
    job = services.import_job_create(filename="leads.csv", content=content, actor=None)
    start(job, **overrides)
    return channels.import_job_run(job_id=job.pk)


# --- pure pieces --------------------------------------------------------------------------


def test_headers_are_guessed_and_saved_choices_win():
    headers = ["Record ID", "Email", "E-mail", "Lead Source", "Favourite Colour"]
    assert guess_mapping(headers) == {
        "Record ID": "external_id",
        "Email": "email",
        "E-mail": "",  # a second email column is not allowed to overwrite the first
        "Lead Source": "source",
        "Favourite Colour": "",
    }
    assert (
        guess_mapping(headers, saved={"Favourite Colour": "properties.colour"})["Favourite Colour"]
        == "properties.colour"
    )


def test_encoding_detection():
    assert csv_rows.detect_encoding("id,name\n1,Zoë\n".encode()) == "utf-8"
    assert csv_rows.detect_encoding("id,name\n1,Zoë\n".encode("cp1252")) == "cp1252"
    mixed = "id,name\n1,Zoë\n".encode() + "2,Renée\n".encode("cp1252")
    assert csv_rows.detect_encoding(mixed) == "utf-8"  # real UTF-8 with one broken row
    assert csv_rows.detect_encoding("id\n1\n".encode("utf-16")) == "utf-16"


def test_rows_keep_line_numbers_across_quoted_newlines():
    text = 'id,note\n1,"two\nlines"\n\n2,ok\n3\n'
    headers, rows = csv_rows.read_rows(text, ",")
    rows = list(rows)
    assert headers == ["id", "note"]
    assert [(r.line, r.problem is None) for r in rows] == [(2, True), (5, True), (6, False)]
    assert rows[0].cells["note"] == "two\nlines"


def test_cell_dates_by_the_chosen_order():
    berlin = ZoneInfo("Europe/Berlin")
    assert csv_rows.parse_cell_moment("03/04/2025 2:05 PM", date_order="mdy", tz=UTC) == datetime(
        2025, 3, 4, 14, 5, tzinfo=UTC
    )
    assert csv_rows.parse_cell_moment("03/04/2025", date_order="dmy", tz=berlin) == datetime(
        2025, 4, 3, tzinfo=berlin
    )
    assert csv_rows.parse_cell_moment(
        "2025-04-03T10:00:00Z", date_order="dmy", tz=berlin
    ) == datetime(2025, 4, 3, 10, tzinfo=UTC)
    assert csv_rows.parse_cell_moment("yesterday", date_order="iso", tz=UTC) is None
    assert csv_rows.parse_cell_date("31.03.2025", date_order="dmy") == date(2025, 3, 31)


def test_crm_payload_shapes():
    records, ignored = hubspot_records(
        {
            "results": [
                {
                    "id": "5",
                    "properties": {"email": {"value": "a@b.c"}, "createdate": "1740990000000"},
                }
            ]
        }
    )
    assert ignored == 0
    assert records[0]["hs_object_id"] == "5" and records[0]["email"] == "a@b.c"
    assert records[0]["createdate"].startswith("2025-03-03T")
    records, ignored = salesforce_records(
        [{"attributes": {"type": "Account"}, "Id": "001"}, {"Id": "00Q", "Company": "X"}]
    )
    assert ignored == 1 and records == [{"Id": "00Q", "Company": "X"}]
    item, unmapped = apply_mapping(
        {"Id": "00Q", "Status": "Closed - Converted", "Junk": "1"},
        {"Id": "external_id", "Status": "stage"},
    )
    assert item == {
        "external_id": "00Q",
        "stage": "sql",
        "properties": {"crm_stage": "Closed - Converted"},
    }
    assert unmapped == ["Junk"]


# --- the import -------------------------------------------------------------------------------


def test_hubspot_export_imports_with_the_guessed_mapping(acme):
    job = run_import(HUBSPOT_EXPORT.encode())
    assert (job.status, job.created, job.rejected, job.processed_rows) == ("done", 2, 0, 2)
    ana = Lead.objects.get(external_id="101")
    assert (ana.company_size, ana.country, ana.source, ana.stage, ana.seniority) == (
        500,
        "DE",
        "paid_search",
        "sql",
        "vp",
    )
    assert ana.created_at == datetime(2025, 1, 5, 9, 30, tzinfo=UTC)
    assert Lead.objects.get(external_id="102").region == "APAC"
    again = run_import(HUBSPOT_EXPORT.encode())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_bad_rows_are_reported_by_line_and_the_rest_imported(acme):
    content = (
        b"id,email,company size,create date,expected close\n"
        b"1,ok@example.com,10,2025-01-01,2025-06-30\n"
        b"2,not-an-email,10,2025-01-01,\n"
        b"3,c@example.com,10,31/31/2025,\n"
        b"4,d@example.com,10,2025-01-01,someday\n"
        b",e@example.com,10,2025-01-01,\n"
        b"6,f@example.com\n"
        b"7,g@example.com,10,2025-01-01,,extra\n"
        b"8,h@example.com,many,2025-01-01,\n"
        b"9,i@example.com,20,2025-01-02,2025-07-01\n"
    )
    job = run_import(content)
    assert (job.created, job.rejected) == (2, 7)
    assert sorted(Lead.objects.values_list("external_id", flat=True)) == ["1", "9"]
    reasons = {p["line"]: p["errors"] for p in job.row_errors}
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9}
    assert "email" in reasons[3]
    assert "created_at" in reasons[4] and "31/31/2025" in reasons[4]["created_at"][0]
    assert "expected_close" in reasons[5]
    assert "external_id" in reasons[6]
    assert "has 2 values" in reasons[7]["row"][0].lower()  # missing columns
    assert "has 6 values" in reasons[8]["row"][0].lower()
    assert "company_size" in reasons[9]


def test_a_row_in_another_encoding_is_rejected_alone(acme):
    content = "id,first name\n1,Zoë\n".encode() + "2,Renée\n".encode("cp1252") + "3,Åsa\n".encode()
    job = run_import(content)
    assert (job.created, job.rejected) == (2, 1)
    assert job.row_errors[0]["line"] == 3
    assert "encoding" in job.row_errors[0]["errors"]["row"][0]
    assert Lead.objects.get(external_id="3").first_name == "Åsa"


def test_a_windows_export_is_read_as_windows_1252(acme):
    job = run_import("id,first name,company\n1,Renée,Société Générale\n".encode("cp1252"))
    assert job.encoding == "cp1252" and job.created == 1
    assert Lead.objects.get(external_id="1").company == "Société Générale"


def test_the_mapping_needs_an_external_id_and_is_remembered(acme):
    job = services.import_job_create(
        filename="x.csv", content=b"Contact Key,Email\nk1,a@b.co\n", actor=None
    )
    assert job.mapping == {"Contact Key": "", "Email": "email"}
    with pytest.raises(DomainError) as exc:
        start(job)
    assert exc.value.field == "mapping"
    with pytest.raises(DomainError):
        start(job, mapping={"Contact Key": "email", "Email": "email"})
    start(job, mapping={"Contact Key": "external_id", "Email": "email"})
    assert FieldMapping.objects.get(source="csv").mapping["Contact Key"] == "external_id"
    later = services.import_job_create(
        filename="y.csv", content=b"Contact Key,Email\nk2,c@d.co\n", actor=None
    )
    assert later.mapping["Contact Key"] == "external_id"


def test_empty_and_headerless_files_are_refused(acme):
    for content in (b"", b"\n\n"):
        with pytest.raises(DomainError) as exc:
            services.import_job_create(filename="x.csv", content=content, actor=None)
        assert exc.value.field == "file"


def test_a_rerun_resumes_after_committed_chunks(acme, monkeypatch):
    monkeypatch.setattr(services, "IMPORT_CHUNK_ROWS", 2)
    content = ("id\n" + "".join(f"{n}\n" for n in range(5))).encode()
    job = services.import_job_create(filename="x.csv", content=content, actor=None)
    start(job)
    # As if a worker died after committing the first chunk of 2 rows.
    ImportJob.objects.filter(pk=job.pk).update(status="running", processed_rows=2, created=2)
    job = channels.import_job_run(job_id=job.pk)
    assert (job.status, job.processed_rows, job.created) == ("done", 5, 5)
    assert Lead.objects.count() == 3  # rows 0 and 1 were "committed" by the earlier run
    assert channels.import_job_run(job_id=job.pk).created == 5  # a finished job is left alone


# --- the wizard pages ----------------------------------------------------------------------


def test_wizard_upload_preview_start_progress_report(
    acme, client_as, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        celery_app, "send_task", lambda name, args, **options: queued.append((name, *args))
    )
    client = client_as("marketing_leader")
    upload = SimpleUploadedFile(
        "hubspot.csv",
        HUBSPOT_EXPORT.encode() + b"103,Cy,Do,bad-email,,,,,,,\n",
        content_type="text/csv",
    )
    response = client.post(reverse("leads:import_upload"), {"file": upload})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "leads:import_detail", args=[job.pk]
    )

    page = client.get(reverse("leads:import_detail", args=[job.pk])).content.decode()
    assert "Ana" in page and "Number of Employees" in page
    assert 'value="company_size" selected' in page

    form = {f"map-{i}": target for i, target in enumerate(job.mapping[h] for h in job.headers)}
    form.update(encoding="utf-8", date_order="iso", time_zone="UTC")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("leads:import_detail", args=[job.pk]), form)
    assert response.status_code == 302
    assert queued == [(lead_import_run_task.name, job.pk)]

    progress = client.get(
        reverse("leads:import_detail", args=[job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-trigger="every 1s"' in progress and "0 of 3 rows" in progress
    channels.import_job_run(job_id=job.pk)
    done = client.get(
        reverse("leads:import_detail", args=[job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "hx-trigger" not in done and "Import finished" in done and "bad-email" in done

    report = client.get(reverse("leads:import_errors", args=[job.pk]))
    lines = (
        b"".join(report.streaming_content if report.streaming else [report.content])
        .decode()
        .splitlines()
    )
    assert lines[0] == "line,external_id,field,reason"
    assert lines[1].startswith("4,103,email,")


def test_wizard_shows_mapping_errors(acme, client_as):
    client = client_as("admin")
    job = services.import_job_create(
        filename="x.csv", content=b"Key,Email\nk1,a@b.co\n", actor=None
    )
    response = client.post(
        reverse("leads:import_detail", args=[job.pk]),
        {
            "map-0": "",
            "map-1": "email",
            "encoding": "utf-8",
            "date_order": "iso",
            "time_zone": "UTC",
        },
    )
    assert response.status_code == 200
    assert "Map one column to External ID" in response.content.decode()
    assert ImportJob.objects.get(pk=job.pk).status == "uploaded"
