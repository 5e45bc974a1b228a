"""The lead page's "Sales feedback" panel: disposition history and, for whoever may work the
lead, a quick touch and disposition form."""

from django.urls import NoReverseMatch, reverse

from apps.dispositions import selectors
from apps.dispositions.forms import TOUCH_CHOICES
from apps.dispositions.models import Outcome

HISTORY_LIMIT = 50


def lead_detail_url(lead) -> str | None:
    """The leads app's detail page for the lead (None if it has no such page)."""
    try:
        return reverse("leads:lead_detail", kwargs={"pk": lead.pk})
    except NoReverseMatch:
        return None


def panel_context(*, lead, user) -> dict:
    history = list(selectors.lead_disposition_history(lead=lead)[:HISTORY_LIMIT])
    may_work = selectors.is_lead_workable_by(lead=lead, user=user)
    return {
        "lead": lead,
        "history": history,
        "current": history[0] if history else None,
        "may_work": may_work,
        "outcomes": Outcome.choices,
        "reason_codes": selectors.reason_codes_offered() if may_work else {},
        "touch_kinds": TOUCH_CHOICES,
    }


def lead_panel(*, lead, user) -> dict | None:
    return {
        "title": "Sales feedback",
        "template": "dispositions/_lead_panel.html",
        "context": panel_context(lead=lead, user=user),
        "order": 30,
    }
