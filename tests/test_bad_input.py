"""The bad-input list of the security review (issue #15 item 3): each gets a 4xx naming what is
wrong, never a 500, and never sinks the good items sent with it."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.input_bounds import NUL_MESSAGE
from apps.handoff import channels
from apps.leads import services as lead_services
from apps.leads.models import Activity, ImportJob, Lead
from apps.sla.models import Commitment
from tests.leads.factories import LeadFactory
from tests.sla.factories import signed_version

NUL = "Ana\x00Evil"
SURROGATE_BODY = '[{"external_id": "s-1", "first_name": "\\ud800"}, {"external_id": "s-2"}]'
EXTREME = "0001-01-01T00:00:00+14:00"


def post(client, url, body):
    return client.post(
        url,
        body if isinstance(body, str | bytes) else json.dumps(body),
        content_type="application/json",
    )


@pytest.fixture
def ingest(api_as):
    return api_as("integration")


def test_a_nul_in_one_upserted_lead_rejects_only_that_item(ingest):
    items = [
        {"external_id": "n-1"},
        {"external_id": "n-2", "first_name": NUL},
        {"external_id": "n-3"},
    ]
    response = post(ingest, "/api/v1/leads/upsert/", items)
    assert response.status_code == 207, response.content
    body = response.json()
    assert body["created"] == 2 and body["rejected"] == 1
    assert body["errors"] == [
        {"index": 1, "errors": {"first_name": [body["errors"][0]["errors"]["first_name"][0]]}}
    ]
    assert "NUL" in body["errors"][0]["errors"]["first_name"][0]
    assert set(Lead.objects.values_list("external_id", flat=True)) >= {"n-1", "n-3"}


def test_a_nul_in_properties_or_a_key_is_found_too(ingest):
    items = [
        {"external_id": "k-1", "properties": {"a": ["x\x00"]}},
        {"external_id": "k-2", "bad\x00key": 1},
    ]
    body = post(ingest, "/api/v1/leads/upsert/", items).json()
    assert [e["index"] for e in body["errors"]] == [0, 1]
    assert (
        "properties" in body["errors"][0]["errors"]
        and "non_field_errors" in body["errors"][1]["errors"]
    )


def test_a_lone_surrogate_rejects_its_item(ingest):
    response = post(ingest, "/api/v1/leads/upsert/", SURROGATE_BODY)
    assert response.status_code == 207
    assert response.json()["errors"][0]["errors"]["first_name"] == [
        "Contains a lone UTF-16 surrogate (e.g. \\ud800), which is not valid text."
    ]
    assert Lead.objects.filter(external_id="s-2").exists()


def test_bad_text_on_a_single_object_endpoint_is_a_400_naming_the_field(api_as):
    admin = api_as("admin")
    nul = post(admin, "/api/v1/users/", {"email": "x@y.test", "name": NUL, "role": "rep"})
    assert nul.status_code == 400 and "name" in nul.json()
    surrogate = post(
        admin, "/api/v1/users/", '{"email": "x@y.test", "name": "\\ud800", "role": "rep"}'
    )
    assert surrogate.status_code == 400 and "name" in surrogate.json()


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deeply_nested_json_is_a_400(ingest, api_as, depth):
    for url in ("/api/v1/leads/upsert/", "/api/v1/activities/ingest/"):
        response = post(ingest, url, "[" * depth + "]" * depth)
        assert response.status_code == 400, (url, response.status_code)
    response = post(api_as("admin"), "/api/v1/users/", "[" * depth + "]" * depth)
    assert response.status_code == 400
    response = post(ingest, "/api/v1/leads/upsert/", '{"items": ' + "[" * depth + "]" * depth + "}")
    assert response.status_code == 400 and "nested deeper" in response.json()["body"][0]


def test_invalid_utf8_body_is_a_400(ingest):
    response = post(ingest, "/api/v1/leads/upsert/", b'[{"external_id": "\xff"}]')
    assert response.status_code == 400 and "UTF-8" in response.json()["body"][0]


def test_an_activity_at_year_one_rejects_only_that_item(ingest):
    LeadFactory(external_id="L-1")
    now = timezone.now().isoformat()
    items = [
        {"external_id": "a-1", "lead": "L-1", "kind": "page_view", "occurred_at": EXTREME},
        {"external_id": "a-2", "lead": "L-1", "kind": "page_view", "occurred_at": now},
        {
            "external_id": "a-3",
            "lead": "L-1",
            "kind": "page_view",
            "occurred_at": "9999-12-31T23:59:59-12:00",
        },
    ]
    response = post(ingest, "/api/v1/activities/ingest/", items)
    assert response.status_code == 207, response.content
    body = response.json()
    assert [e["index"] for e in body["errors"]] == [0, 2]
    assert body["errors"][0]["errors"]["occurred_at"] == [
        "Must lie between 1900-01-01 and 2999-12-31."
    ]
    assert list(Activity.objects.values_list("external_id", flat=True)) == ["a-2"]


def test_a_touch_at_year_one_is_a_400(api_as):
    LeadFactory(external_id="T-1")
    response = post(
        api_as("sales_leader"),
        "/api/v1/touches/",
        {"lead": "T-1", "kind": "call", "occurred_at": EXTREME},
    )
    assert response.status_code == 400 and "occurred_at" in response.json()


def test_open_ended_date_filters_answer_200(api_as):
    LeadFactory(external_id="F-1")
    client = api_as("admin")
    response = client.get(
        "/api/v1/leads/", {"created_from": "0001-01-01", "created_to": "9999-12-31"}
    )
    assert response.status_code == 200
    assert "F-1" in [lead["external_id"] for lead in response.json()["results"]]
    for params in ({"mql_from": "0001-01-01", "mql_to": "9999-12-31"}, {"updated_since": EXTREME}):
        assert client.get("/api/v1/leads/", params).status_code == 200


def test_dashboard_dates_at_the_edges_are_not_500(api_as):
    client = api_as("executive")
    for params in (
        {"period": "custom", "kind": "week", "date": "0001-01-01"},
        {"period": "custom", "kind": "month", "date": "9999-12-31"},
    ):
        assert client.get("/api/v1/dashboards/scorecard/", params).status_code < 500


def test_a_nul_in_a_webhook_rejects_only_its_record(acme):
    endpoint = lead_services.webhook_endpoint_get()
    url = reverse("api:leads:webhook_receive_token", args=["salesforce", endpoint.url_token])
    records = [
        {"Id": f"00Q{n}", "LastName": name, "Company": "X"}
        for n, name in enumerate(["Ok", NUL, "Fine"])
    ]
    response = post(Client(HTTP_HOST="acme.localhost"), url, {"new": records})
    assert response.status_code == 207, response.content
    assert response.json()["created"] == 2 and response.json()["rejected"] == 1
    deep = post(Client(HTTP_HOST="acme.localhost"), url, "[" * 5000 + "]" * 5000)
    assert deep.status_code == 400


def test_nul_in_an_api_query_parameter_is_a_400_naming_it(api_as):
    response = api_as("admin").get("/api/v1/leads/", {"owner": "a\x00b"})
    assert response.status_code == 400 and response.json() == {"owner": [NUL_MESSAGE]}


def test_nul_in_a_page_filter_or_form_is_a_400_page(client_as):
    client = client_as("sales_leader")
    assert client.get("/leads/", {"q": "a\x00b"}).status_code == 400
    response = client.post(reverse("leads:routing_rule_create"), {"name": "x\x00"})
    assert response.status_code == 400 and b"NUL" in response.content


def test_admin_add_commitment_on_a_signed_version_is_refused_with_a_message(client_as, make_user):
    version = signed_version(effective_at=timezone.now() - timedelta(days=3))
    staff = make_user("admin", is_staff=True, is_superuser=True)
    client = client_as(user=staff)
    before = Commitment.objects.filter(version=version).count()
    response = client.post(
        "/admin/sla/commitment/add/",
        {
            "version": version.pk,
            "position": 9,
            "owner_team": "sales",
            "metric": "mql_volume",
            "params": "{}",
            "target": "10",
            "yellow_threshold": "5",
            "review_period": "month",
        },
    )
    assert response.status_code == 200
    assert "cannot change" in response.content.decode()
    assert Commitment.objects.filter(version=version).count() == before


# --- CSV import ----------------------------------------------------------------------------


def run_import(content: bytes) -> ImportJob:
    job = lead_services.import_job_create(filename="bad.csv", content=content, actor=None)
    lead_services.import_job_start(
        job=job,
        mapping=job.mapping,
        encoding=job.encoding,
        date_order="iso",
        time_zone="UTC",
        actor=None,
    )
    return channels.import_job_run(job_id=job.pk)


def test_a_csv_row_with_a_nul_or_a_year_one_date_rejects_only_that_row(acme):
    content = (
        "Record ID,First Name,Create Date\n"
        "c-1,Ana,2025-01-05 09:30\n"
        "c-2,Bad\x00Name,2025-01-05 09:30\n"
        f"c-3,Old,{EXTREME}\n"
        "c-4,Bo,2025-01-06 10:00\n"
    ).encode()
    job = run_import(content)
    assert job.status == ImportJob.Status.DONE, job.failure
    assert (job.created, job.rejected) == (2, 2)
    assert [(e["line"], sorted(e["errors"])) for e in job.row_errors] == [
        (3, ["first_name"]),
        (4, ["created_at"]),
    ]
    assert set(Lead.objects.values_list("external_id", flat=True)) >= {"c-1", "c-4"}


def test_a_csv_row_with_invalid_utf8_is_rejected_with_its_line(acme):
    content = b"Record ID,First Name\nu-1,Ana\nu-2,\xff\xfeBob\nu-3,\xc3\x28x\nu-4,Carl\n"
    job = run_import(content)
    assert job.encoding == "utf-8"
    assert (job.created, job.rejected) == (2, 2)
    assert [e["line"] for e in job.row_errors] == [3, 4]
    assert "not valid text" in job.row_errors[0]["errors"]["row"][0]
    assert not Lead.objects.filter(first_name__contains="ÿ").exists()


def test_a_csv_import_started_while_the_broker_is_down_is_queued_and_resent(
    acme, client_as, django_capture_on_commit_callbacks
):
    from config.celery_app import app as celery_app

    client = client_as("admin")
    job = lead_services.import_job_create(filename="x.csv", content=b"Record ID\nq-1\n", actor=None)
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there: refused
    celery_app._pool = None
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("leads:import_detail", args=[job.pk]),
                {f"map-{i}": target for i, target in enumerate(job.mapping.values())}
                | {"encoding": "utf-8", "date_order": "iso", "time_zone": "UTC", "action": "start"},
            )
    finally:
        celery_app.conf.broker_url = original
        celery_app._pool = None
    assert response.status_code < 500
    job.refresh_from_db()
    assert job.status == ImportJob.Status.QUEUED and job.queued_at is not None
    # The sweep sends it again once it has waited long enough (the broker is back now).
    later = timezone.now() + lead_services.IMPORT_REQUEUE_AFTER + timedelta(seconds=1)
    assert lead_services.imports_requeue(now=timezone.now()) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert lead_services.imports_requeue(now=later) == 1
    job.refresh_from_db()
    assert job.queued_at == later
