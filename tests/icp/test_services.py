"""ICP revisions, approvals, the profile in force, fit for many leads, insights from closed deals."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.icp.selectors import fit_for_leads, icp_current, icp_insights
from apps.icp.services import icp_revision_approve, icp_revision_create
from tests.mql.factories import LeadFactory

CRITERIA = {
    "employee_min": "200",
    "employee_max": 5000,
    "industries": "Software, Fintech",
    "regions": ["US", "GB"],
}


@pytest.fixture
def marketing(make_user):
    return make_user("marketing_leader")


@pytest.fixture
def sales(make_user):
    return make_user("sales_leader")


def test_each_save_is_a_new_revision_with_clean_content(marketing):
    first = icp_revision_create(
        author=marketing,
        criteria=CRITERIA,
        pains=["  Month-end takes a week ", "", "Month-end takes a week"],
        personas=[{"role": "VP Data", "goals": "trust"}, {"role": "", "goals": ""}],
    )
    second = icp_revision_create(author=marketing, criteria={"industries": ["Retail"]})

    assert (first.number, second.number) == (1, 2)
    assert first.criteria == {
        "employee_min": 200,
        "employee_max": 5000,
        "industries": ["Software", "Fintech"],
        "regions": ["US", "GB"],
    }
    assert first.pains == ["Month-end takes a week"]
    assert first.personas == [{"role": "VP Data", "goals": "trust", "pains": "", "objections": ""}]
    first.refresh_from_db()
    assert first.criteria["industries"] == ["Software", "Fintech"]  # earlier revisions never change


def test_bad_criteria_name_the_field(marketing):
    with pytest.raises(DomainError) as caught:
        icp_revision_create(author=marketing, criteria={"employee_min": 900, "employee_max": 10})
    assert caught.value.field == "employee_min"
    with pytest.raises(DomainError) as caught:
        icp_revision_create(author=marketing, criteria={}, personas=[{"goals": "no role"}])
    assert caught.value.field == "personas[0].role"


def test_reps_and_executives_do_not_edit(make_user):
    for role in ("rep", "executive"):
        with pytest.raises(NotAllowed):
            icp_revision_create(author=make_user(role), criteria={})


def test_the_profile_in_force_is_the_newest_approved_by_both_leaders(marketing, sales, make_user):
    first = icp_revision_create(author=marketing, criteria=CRITERIA)
    assert icp_current() == first  # nothing approved yet: the newest
    icp_revision_approve(revision=first, approver=marketing)
    icp_revision_approve(revision=first, approver=sales)
    second = icp_revision_create(author=sales, criteria={"industries": ["Retail"]})
    icp_revision_approve(revision=second, approver=marketing)

    assert icp_current() == first  # the second has one approval only

    approval = icp_revision_approve(revision=second, approver=sales)
    assert icp_current() == second
    assert approval.role == "sales_leader" and approval.approver == sales
    assert icp_revision_approve(revision=second, approver=sales) == approval  # idempotent
    with pytest.raises(Conflict):
        icp_revision_approve(revision=second, approver=make_user("sales_leader"))
    with pytest.raises(NotAllowed):
        icp_revision_approve(revision=second, approver=make_user("admin"))


def test_fit_for_leads_grades_many_leads_in_one_query(marketing, django_assert_max_num_queries):
    icp_revision_create(author=marketing, criteria=CRITERIA)
    ideal = LeadFactory(company_size=800, industry="software", country="GB")
    half = LeadFactory(company_size=800, industry="Mining", country="FR")
    unknown = LeadFactory(company_size=None, industry="", country="")

    with django_assert_max_num_queries(2):  # the ICP (+ the tenant's search_path)
        fits = fit_for_leads(leads=[ideal, half, unknown])

    assert (fits[ideal.pk].grade, fits[ideal.pk].score) == ("A", 100)
    assert (fits[half.pk].grade, fits[half.pk].score) == ("D", 33)
    assert [m.matched for m in fits[unknown.pk].matches] == [None, None, None]


# Closed far in the future, so deals other apps' committed tests may have left in the shared
# tenant fall outside `closed_since=NOW`.
NOW = datetime(2099, 6, 1, tzinfo=UTC)


def closed(stage, *, industry, size, amount=None, days=30, **extra):
    return LeadFactory(
        stage=stage,
        industry=industry,
        company_size=size,
        amount=amount,
        created_at=NOW - timedelta(days=days + 10),
        mql_at=NOW - timedelta(days=days),
        closed_at=NOW,
        **extra,
    )


def test_insights_from_closed_deals(acme):
    closed("won", industry="Software", size=300, amount=Decimal("10000"), days=30, country="US")
    closed(
        "won",
        industry="Software",
        size=3000,
        amount=Decimal("30000"),
        days=60,
        country="GB",
        region="EMEA",
    )
    closed("lost", industry="Software", size=40, country="US")
    closed("lost", industry="", size=None, country="")
    LeadFactory(stage="sql", industry="Software")  # open: not a closed deal

    by_industry = {row["key"]: row for row in icp_insights(dimension="industry", closed_since=NOW)}
    software = by_industry["Software"]
    assert (software["deals"], software["won"], software["win_rate"]) == (3, 2, 2 / 3)
    assert software["avg_won_amount"] == Decimal("20000")
    # Cycle: from created_at (the earliest stage time) to the close.
    assert software["avg_cycle_days"] == pytest.approx(55)
    assert by_industry["(unknown)"]["won"] == 0

    bands = {
        row["key"]: row["deals"] for row in icp_insights(dimension="size_band", closed_since=NOW)
    }
    assert bands == {"200–999": 1, "1,000–4,999": 1, "1–49": 1, "(unknown)": 1}
    regions = {
        row["key"]: row["deals"] for row in icp_insights(dimension="region", closed_since=NOW)
    }
    assert regions == {"US": 2, "EMEA": 1, "(unknown)": 1}
    assert icp_insights(dimension="source", closed_since=NOW + timedelta(days=1)) == []
