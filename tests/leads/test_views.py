"""Lead pages: list with filters and export, detail with timeline and panels, routing editor, webhooks."""

from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.leads import panel_discovery, services
from apps.leads.models import Lead, RoutingRule
from tests.leads.factories import ActivityFactory, LeadFactory


def text(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_list_filters_search_and_htmx_fragment(acme, client_as):
    client = client_as("marketer")
    LeadFactory(first_name="Ana", last_name="Silva", company="Example GmbH", source="webinar")
    LeadFactory(
        first_name="Bo",
        last_name="Chen",
        company="Chen Ltd",
        source="paid_search",
        stage="mql",
        mql_at=timezone.now(),
    )
    page = text(client.get(reverse("leads:lead_list")))
    assert "Ana Silva" in page and "Bo Chen" in page and "2 leads" in page
    page = text(client.get(reverse("leads:lead_list"), {"q": "ana example"}))
    assert "Ana Silva" in page and "Bo Chen" not in page
    fragment = text(
        client.get(reverse("leads:lead_list"), {"stage": "mql"}, HTTP_HX_REQUEST="true")
    )
    assert "Bo Chen" in fragment and "Ana Silva" not in fragment and "<html" not in fragment
    assert "No lead matches these filters" in text(
        client.get(reverse("leads:lead_list"), {"source": "webinar", "stage": "won"})
    )


def test_rep_sees_own_leads_only(acme, client_as, make_user):
    client = client_as("rep")
    mine = LeadFactory(first_name="Mine", owner=client.user)
    other = LeadFactory(first_name="Theirs", owner=make_user("rep"))
    page = text(client.get(reverse("leads:lead_list")))
    assert "Mine" in page and "Theirs" not in page
    assert client.get(reverse("leads:lead_detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("leads:lead_detail", args=[other.pk])).status_code == 404
    export = text(client.get(reverse("leads:lead_export")))
    assert mine.external_id in export and other.external_id not in export


def test_export_streams_the_filtered_list_as_csv(acme, client_as):
    client = client_as("executive")
    LeadFactory(external_id="W1", source="webinar", company="=HYPERLINK(1)")
    LeadFactory(external_id="P1", source="paid_search")
    response = client.get(reverse("leads:lead_export"), {"source": "webinar"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    lines = text(response).splitlines()
    assert lines[0].startswith("external_id,email,first_name")
    assert len(lines) == 2 and lines[1].startswith("W1,")
    assert ",'=HYPERLINK(1)," in lines[1]  # never a live formula in a spreadsheet


def test_detail_shows_the_timeline_and_every_app_panel(acme, client_as, monkeypatch, settings):
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [
        {**engine, "DIRS": [*engine["DIRS"], Path(__file__).parent / "templates"]}
    ]

    def sla_panel(*, lead, user):
        return {
            "title": "SLA clocks",
            "template": "leads/_test_panel.html",
            "context": {"word": "ticking"},
            "order": 20,
        }

    def hidden_panel(*, lead, user):
        return None

    def first_panel(*, lead, user):
        return {
            "title": "Disposition",
            "template": "leads/_test_panel.html",
            "context": {"word": f"for {user.role}"},
            "order": 10,
        }

    monkeypatch.setattr(
        panel_discovery, "lead_panel_providers", lambda: (sla_panel, hidden_panel, first_panel)
    )
    client = client_as("sales_leader")
    lead = LeadFactory(first_name="Ana", last_name="Silva")
    ActivityFactory(lead=lead, kind="page_view", properties={"url": "/pricing"})
    page = text(client.get(reverse("leads:lead_detail", args=[lead.pk])))
    assert "/pricing" in page and "Lead created" in page
    assert page.index("Timeline") < page.index("for sales_leader") < page.index("ticking")
    assert "Reassign" in page


def test_panel_discovery_finds_panels_modules():
    panel_discovery.lead_panel_providers.cache_clear()
    providers = panel_discovery.lead_panel_providers()
    assert all(callable(p) for p in providers)


def test_reassign_and_route_from_the_page(acme, client_as, make_user):
    client = client_as("sales_leader")
    rep = make_user("rep")
    lead = LeadFactory()
    response = client.post(
        reverse("leads:lead_reassign", args=[lead.pk]), {"owner": rep.pk, "reason": "Territory"}
    )
    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).owner == rep
    response = client.post(reverse("leads:lead_route", args=[lead.pk]), follow=True)
    assert "No active routing rule matches" in text(response)


def test_routing_editor(acme, client_as, make_user):
    client = client_as("sales_leader")
    reps = [make_user("rep", name=f"Rep {n}") for n in range(2)]
    form = {
        "name": "Enterprise",
        "c0_field": "company_size", "c0_op": "gte", "c0_value": "500",
        "c1_field": "country", "c1_op": "in", "c1_value": "de, fr",
        "pool": [r.pk for r in reps], "is_active": "on",
    }  # fmt: skip
    assert client.post(reverse("leads:routing_rule_create"), form).status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.conditions == [
        {"field": "company_size", "op": "gte", "value": 500},
        {"field": "country", "op": "in", "value": ["DE", "FR"]},
    ]
    page = text(client.get(reverse("leads:routing_rule_list")))
    assert "Company size (employees) ≥ 500" in page and "Rep 0" in page
    edit = text(client.get(reverse("leads:routing_rule_edit", args=[rule.pk])))
    assert 'value="de, fr"' not in edit and 'value="DE, FR"' in edit
    bad = client.post(
        reverse("leads:routing_rule_edit", args=[rule.pk]), {**form, "c0_value": "big"}
    )
    assert bad.status_code == 200 and "is not a number" in text(bad)
    assert client.post(reverse("leads:routing_rule_delete", args=[rule.pk])).status_code == 302
    assert not RoutingRule.objects.exists()


def test_webhook_settings_page(acme, client_as):
    client = client_as("admin")
    page = text(client.get(reverse("leads:webhook_settings")))
    endpoint = services.webhook_endpoint_get()
    assert endpoint.url_token in page and endpoint.signing_secret in page
    assert "hs_object_id" in page and "NumberOfEmployees" in page
    client.post(reverse("leads:webhook_settings"), {"action": "rotate"})
    assert services.webhook_endpoint_get().url_token != endpoint.url_token
    client.post(
        reverse("leads:webhook_settings"),
        {
            "action": "mapping",
            "source": "hubspot",
            "name": ["hs_object_id", "email", ""],
            "target": ["external_id", "email", ""],
        },
    )
    assert services.field_mapping_for("hubspot") == {
        "hs_object_id": "external_id",
        "email": "email",
    }
    response = client.post(
        reverse("leads:webhook_settings"),
        {"action": "mapping", "source": "hubspot", "name": ["x"], "target": ["shoe_size"]},
        follow=True,
    )
    assert "is not a lead field" in text(response)


@pytest.mark.parametrize("role", ["marketer", "rep", "executive"])
def test_settings_pages_are_not_in_their_menus(acme, client_as, role):
    page = text(client_as(role).get(reverse("leads:lead_list")))
    assert reverse("leads:webhook_settings") not in page
    assert reverse("leads:routing_rule_list") not in page
