"""Back-test numbers on a small known dataset: pure tally, then through the database."""

from datetime import UTC, date, datetime, timedelta

import pytest

from apps.mql.backtest import (
    FIT_ALONE,
    SCORE_FLIP,
    LeadHistory,
    Tally,
    decisive_conditions,
    week_of,
)
from apps.mql.models import BacktestStatus
from apps.mql.rules import ActivityFact, parse_definition
from apps.mql.services import backtest_run, backtest_start
from apps.mql.tasks import backtest_run_task
from config.celery_app import app as celery_app
from tests.mql.factories import LeadFactory, demo_request, pricing_visit, published_definition

NOW = datetime(2025, 6, 4, 12, 0, tzinfo=UTC)  # a Wednesday

PRICING_ONLY = {
    "behaviour": {
        "conditions": [
            {
                "id": "pricing",
                "label": "Visited pricing",
                "kind": "page_view",
                "property": "url",
                "match": "contains",
                "value": "/pricing",
                "within_days": 7,
            }
        ]
    }
}
DEMO_ONLY = {
    "behaviour": {
        "conditions": [
            {
                "id": "demo",
                "label": "Asked for a demo",
                "kind": "form_submit",
                "property": "form",
                "match": "equals",
                "value": "demo-request",
                "within_days": 30,
            }
        ]
    }
}


def fact(n, days_ago, kind="page_view", **properties):
    return ActivityFact(n, kind, NOW - timedelta(days=days_ago), properties)


def pricing(n, days_ago):
    return fact(n, days_ago, url="/pricing")


def demo(n, days_ago):
    return fact(n, days_ago, "form_submit", form="demo-request")


def history(lead_id, activities, *, sql=False, won=False):
    return LeadHistory(lead_id, {"company_size": 500}, activities, reached_sql=sql, won=won)


def test_week_of_is_the_utc_monday():
    assert week_of(NOW) == date(2025, 6, 2)
    assert week_of(datetime(2025, 6, 1, 23, 59, tzinfo=UTC)) == date(2025, 5, 26)


def test_tally_of_a_known_dataset():
    tally = Tally(
        parse_definition(PRICING_ONLY),
        parse_definition(DEMO_ONLY),
        start=NOW - timedelta(days=28),
        end=NOW,
    )
    tally.add(history(1, [pricing(11, 10)], sql=True, won=True))
    # Qualified 40 days ago under the draft, before the window: not a new MQL of the window.
    tally.add(history(2, [pricing(21, 40), pricing(22, 5)]))
    tally.add(history(3, [demo(31, 3)]))
    tally.add(history(4, [pricing(41, 20), demo(42, 15)], sql=True))
    tally.add(history(5, [fact(51, 2, url="/blog")]))

    result = tally.as_dict()

    assert result["leads_replayed"] == 5
    assert result["draft"]["mqls"] == 2
    assert (result["draft"]["reached_sql"], result["draft"]["won"]) == (2, 1)
    assert (result["draft"]["sql_rate"], result["draft"]["win_rate"]) == (1.0, 0.5)
    assert result["baseline"]["mqls"] == 2
    assert (result["baseline"]["reached_sql"], result["baseline"]["won"]) == (1, 0)
    assert result["overlap"] == {"both": 1, "only_draft": 1, "only_baseline": 1}
    assert result["draft"]["decisive"] == [{"label": "Visited pricing", "count": 2}]
    weeks = {w["week"]: (w["draft"], w["baseline"]) for w in result["weeks"]}
    # Draft: lead 4 on Thu 15 May, lead 1 on Sun 25 May. Baseline: lead 4 on Tue 20 May,
    # lead 3 on Sun 1 June. The 28-day window (from Wed 7 May) touches five Monday-weeks.
    assert weeks == {
        "2025-05-05": (0, 0),
        "2025-05-12": (1, 0),
        "2025-05-19": (1, 1),
        "2025-05-26": (0, 1),
        "2025-06-02": (0, 0),
    }


def test_decisive_conditions_name_what_flipped():
    defn = parse_definition(
        {
            "fit": {"conditions": [{"field": "company_size", "op": "gte", "value": 50}]},
            "behaviour": PRICING_ONLY["behaviour"],
            "scoring": {
                "threshold": 20,
                "rules": [
                    {
                        "id": "views",
                        "signal": {"type": "activity", "kind": "page_view"},
                        "points": 10,
                    }
                ],
            },
        }
    )
    activities = [fact(1, 3, url="/blog"), pricing(2, 2)]

    flipped = decisive_conditions(
        defn, fields={"company_size": 80}, activities=activities, at=NOW - timedelta(days=2)
    )

    assert flipped == ("Visited pricing", SCORE_FLIP)
    fit_only = parse_definition(
        {"fit": {"conditions": [{"field": "company_size", "op": "gte", "value": 50}]}}
    )
    assert decisive_conditions(fit_only, fields={"company_size": 80}, activities=[], at=NOW) == (
        FIT_ALONE,
    )


@pytest.fixture
def known_history(acme):
    """Four leads with signals in the last 28 days, one without; baseline = demo-only."""
    baseline = published_definition(DEMO_ONLY)
    draft = published_definition(PRICING_ONLY)  # published, then turned back into a draft below
    draft.status = "draft"
    draft.save()
    baseline.status = "published"
    baseline.save()
    leads = [LeadFactory() for _ in range(5)]
    pricing_visit(leads[0], NOW - timedelta(days=10))
    leads[0].sql_at = NOW - timedelta(days=8)
    leads[0].stage = "won"
    leads[0].save()
    pricing_visit(leads[1], NOW - timedelta(days=40))
    pricing_visit(leads[1], NOW - timedelta(days=5))
    demo_request(leads[2], NOW - timedelta(days=3))
    pricing_visit(leads[3], NOW - timedelta(days=20))
    demo_request(leads[3], NOW - timedelta(days=15))
    leads[3].sql_at = NOW - timedelta(days=14)
    leads[3].stage = "sql"
    leads[3].save()
    pricing_visit(leads[4], NOW - timedelta(days=60))  # no signal inside the window
    return draft, baseline


def test_backtest_over_the_database_matches_the_known_numbers(known_history, make_user):
    draft, baseline = known_history

    run = backtest_start(definition=draft, days=28, actor=make_user("marketer"), now=NOW)

    assert run.status == BacktestStatus.DONE and run.baseline == baseline
    assert (run.total, run.processed, run.progress_percent) == (4, 4, 100)
    result = run.result
    assert result["leads_replayed"] == 4  # the lead with no signal in the window is skipped
    assert (result["draft"]["mqls"], result["draft"]["reached_sql"], result["draft"]["won"]) == (
        2,
        2,
        1,
    )
    assert (result["baseline"]["mqls"], result["baseline"]["reached_sql"]) == (2, 1)
    assert result["overlap"] == {"both": 1, "only_draft": 1, "only_baseline": 1}


def test_a_large_backtest_goes_to_the_worker_after_commit(
    known_history, make_user, monkeypatch, django_capture_on_commit_callbacks
):
    draft, _ = known_history
    monkeypatch.setattr("apps.mql.services.BACKTEST_SYNC_MAX_LEADS", 2)
    queued = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: queued.append((name, *args)))

    with django_capture_on_commit_callbacks(execute=True):
        run = backtest_start(definition=draft, days=28, actor=make_user("marketer"), now=NOW)

    assert run.status == BacktestStatus.PENDING and queued == [(backtest_run_task.name, run.pk)]
    done = backtest_run(run_id=run.pk)  # what the task does
    assert done.status == BacktestStatus.DONE and done.result["draft"]["mqls"] == 2
    assert backtest_run(run_id=run.pk).finished_at == done.finished_at  # a redelivery is a no-op
