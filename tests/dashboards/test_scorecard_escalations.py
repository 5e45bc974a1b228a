"""The scorecard lists escalation episodes: those sent and those found in back-filled history
(marked, nobody notified), to the roles that read the organization's compliance."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from apps.compliance import services
from tests.compliance import factories as f


@pytest.fixture
def episodes(acme, make_user):
    """A low run long ago (history) and one ending last week (sent to the executive)."""
    make_user("executive", email="cro-escalations@acme.test")
    now = timezone.now()
    this_monday = (now - timedelta(days=now.weekday())).date()
    first = this_monday - timedelta(weeks=12)
    draft = f.draft_version(
        effective_at=datetime.combine(first, datetime.min.time(), now.tzinfo) - timedelta(days=30)
    )
    commitment = draft.commitments.get()
    f.escalation_rule(commitment=commitment, threshold=0.8, periods=2)
    f.sign(draft)
    values = [0.5, 0.6] + [0.9] * 8 + [0.7, 0.4]  # 12 closed weeks up to last week
    f.frozen_weeks(commitment, values, first=first)
    report = services.escalations_evaluate(now=now)
    assert (report["alerts"], report["backfilled"]) == (1, 1)
    return first, this_monday - timedelta(weeks=1)


def _card(html: str) -> str:
    start = html.index('data-testid="escalations"')
    return html[start : html.index("</div>", start)]


@pytest.mark.parametrize("role", ["executive", "admin", "sales_leader", "marketing_leader"])
def test_the_scorecard_shows_sent_and_backfilled_episodes(episodes, client_as, role):
    html = client_as(role).get("/dashboards/").content.decode()
    card = _card(html)
    assert card.count("<li") == 2
    sent, history = card.split("<li")[1:]  # newest first
    assert 'data-backfilled="false"' in sent and "Sent to cro-escalations@acme.test" in sent
    assert 'data-backfilled="true"' in history
    assert "Found in back-filled data · nobody notified" in history
    assert "below 80 % for 2 consecutive weeks" in history


@pytest.mark.parametrize("role", ["rep", "marketer"])
def test_reps_and_marketers_do_not_see_sales_escalations(episodes, client_as, role):
    html = client_as(role).get("/dashboards/").content.decode()
    assert 'data-testid="escalations"' not in html


def test_no_card_without_escalations(acme, client_as):
    response = client_as("executive").get("/dashboards/")
    assert response.status_code == 200
    assert 'data-testid="escalations"' not in response.content.decode()
