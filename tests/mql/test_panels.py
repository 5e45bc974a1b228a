"""The lead page's "why is this an MQL?" panel."""

from datetime import timedelta

from django.template.loader import render_to_string
from django.utils import timezone

from apps.leads.stages import lead_stage_change
from apps.mql.panels import lead_panel
from tests.handoff.batches import qualify
from tests.mql.factories import LeadFactory, demo_request, published_definition


def render(panel):
    return render_to_string(panel["template"], panel["context"])


def test_panel_explains_the_mql_and_lists_its_history(acme):
    definition = published_definition()
    lead = LeadFactory()
    assert "has not qualified yet" in render(lead_panel(lead=lead, user=None))

    now = timezone.now()
    demo_request(lead, now - timedelta(days=20))
    qualify(lead_ids=[lead.pk], now=now - timedelta(days=19))
    lead.refresh_from_db()
    lead_stage_change(lead=lead, to_stage="nurture", occurred_at=now - timedelta(days=10))
    demo_request(lead, now - timedelta(days=1))
    qualify(lead_ids=[lead.pk], now=now)

    panel = lead_panel(lead=lead, user=None)
    html = render(panel)

    assert panel["title"] == "Why is this an MQL?"
    assert f"v{definition.version}" in html and "Asked for a demo" in html
    assert "Score breakdown" in html and "demo_request" in html
    assert "MQL history" in html and len(panel["context"]["events"]) == 2
