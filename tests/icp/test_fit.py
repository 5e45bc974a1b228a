"""ICP fit: equal-weight attribute matches, grades, missing data, empty profiles."""

from decimal import Decimal

import pytest

from apps.icp.fit import AttributeMatch, IcpCriteria, criteria_from_dict, evaluate_fit, grade_for

FULL_ICP = IcpCriteria(
    employee_min=200,
    employee_max=5000,
    revenue_min=Decimal("10000000"),
    industries=frozenset({"Software", "Fintech"}),
    regions=frozenset({"US", "EMEA"}),
    technologies=frozenset({"Salesforce", "Snowflake"}),
    seniorities=frozenset({"director", "vp", "c_level"}),
)

IDEAL_LEAD = {
    "company_size": 800,
    "annual_revenue": 25_000_000,
    "industry": "software",
    "country": "DE",
    "region": "emea",
    "title": "VP Sales",
    "seniority": "vp",
    "properties": {"technologies": ["salesforce", "Segment"]},
}


@pytest.mark.parametrize(
    ("score", "grade"),
    [(100, "A"), (80, "A"), (79, "B"), (60, "B"), (59, "C"), (40, "C"), (39, "D"), (0, "D")],
)
def test_grade_bands(score, grade):
    assert grade_for(score) == grade


def test_ideal_lead_matches_everything():
    result = evaluate_fit(FULL_ICP, fields=IDEAL_LEAD)
    assert (result.score, result.grade) == (100, "A")
    assert [m.attribute for m in result.matches] == [
        "company_size",
        "annual_revenue",
        "industry",
        "region",
        "technologies",
        "seniority",
    ]
    assert all(m.matched for m in result.matches)
    assert result.matches[0] == AttributeMatch("company_size", "200-5,000 employees", "800", True)
    assert result.matches[1].expected == "at least 10,000,000 in annual revenue"


@pytest.mark.parametrize(
    ("changes", "score", "grade"),
    [
        ({"company_size": 50}, 83, "A"),
        ({"company_size": 50, "industry": "Retail"}, 67, "B"),
        ({"company_size": 50, "industry": "Retail", "seniority": "manager"}, 50, "C"),
        (
            {"company_size": 50, "industry": "Retail", "seniority": "manager", "region": "APAC"},
            33,
            "D",
        ),
    ],
)
def test_equal_weights(changes, score, grade):
    result = evaluate_fit(FULL_ICP, fields={**IDEAL_LEAD, **changes})
    assert (result.score, result.grade) == (score, grade)


def test_only_specified_attributes_count():
    criteria = IcpCriteria(industries=frozenset({"Software"}))
    result = evaluate_fit(criteria, fields={"industry": "Software", "company_size": 3})
    assert (result.score, result.grade) == (100, "A")
    assert [m.attribute for m in result.matches] == ["industry"]


def test_missing_data_is_not_matched_but_flagged():
    result = evaluate_fit(FULL_ICP, fields={"company_size": 800})
    by_attribute = {m.attribute: m for m in result.matches}
    assert by_attribute["company_size"].matched is True
    missing = [m for m in result.matches if m.matched is None]
    assert {m.attribute for m in missing} == {
        "annual_revenue",
        "industry",
        "region",
        "technologies",
        "seniority",
    }
    assert all(m.actual == "" for m in missing)
    assert (result.score, result.grade) == (17, "D")


def test_empty_icp_grades_nobody():
    result = evaluate_fit(IcpCriteria(), fields=IDEAL_LEAD)
    assert (result.score, result.grade, result.matches) == (0, "D", ())
    assert IcpCriteria().is_empty()
    assert not FULL_ICP.is_empty()


@pytest.mark.parametrize(
    ("fields", "matched"),
    [
        ({"country": "us"}, True),
        ({"country": "FR", "region": "EMEA"}, True),
        ({"country": "JP", "region": "APAC"}, False),
        ({}, None),
    ],
)
def test_regions_match_country_or_region(fields, matched):
    criteria = IcpCriteria(regions=frozenset({"US", "emea"}))
    assert evaluate_fit(criteria, fields=fields).matches[0].matched is matched


@pytest.mark.parametrize(
    ("fields", "matched"),
    [
        ({"properties": {"technologies": ["Snowflake"]}}, True),
        ({"technologies": ["HubSpot", "salesforce"]}, True),
        ({"technologies": "HubSpot, Salesforce"}, True),
        ({"properties": {"technologies": ["HubSpot"]}}, False),
        ({"properties": {"technologies": []}}, None),
    ],
)
def test_technologies(fields, matched):
    criteria = IcpCriteria(technologies=frozenset({"Salesforce", "Snowflake"}))
    assert evaluate_fit(criteria, fields=fields).matches[0].matched is matched


@pytest.mark.parametrize(
    ("fields", "matched", "actual"),
    [
        ({"seniority": "director"}, True, "Director"),
        ({"title": "Head of Marketing"}, True, "Director"),
        ({"seniority": "unknown", "title": "Engineer"}, False, "Individual contributor"),
        ({}, None, ""),
    ],
)
def test_seniority_is_derived_from_title_when_missing(fields, matched, actual):
    criteria = IcpCriteria(seniorities=frozenset({"director", "vp"}))
    match = evaluate_fit(criteria, fields=fields).matches[0]
    assert (match.matched, match.actual, match.expected) == (matched, actual, "Director, VP")


@pytest.mark.parametrize(
    ("size", "matched"),
    [(199, False), (200, True), (5000, True), (5001, False), ("450", True), ("n/a", None)],
)
def test_employee_range_is_inclusive(size, matched):
    criteria = IcpCriteria(employee_min=200, employee_max=5000)
    assert evaluate_fit(criteria, fields={"company_size": size}).matches[0].matched is matched


def test_one_sided_ranges():
    assert evaluate_fit(IcpCriteria(employee_max=50), fields={"company_size": 10}).matches[0] == (
        AttributeMatch("company_size", "at most 50 employees", "10", True)
    )


def test_criteria_from_dict():
    criteria = criteria_from_dict(
        {
            "employee_min": "200",
            "employee_max": 5000,
            "revenue_min": 1_000_000.5,
            "industries": ["Software", " Fintech ", ""],
            "regions": "US, EMEA",
            "technologies": None,
            "pain_points": ["ignored"],
        }
    )
    assert criteria == IcpCriteria(
        employee_min=200,
        employee_max=5000,
        revenue_min=Decimal("1000000.5"),
        industries=frozenset({"Software", "Fintech"}),
        regions=frozenset({"US", "EMEA"}),
    )
    assert criteria_from_dict({}) == IcpCriteria()


@pytest.mark.parametrize(
    "data",
    [
        {"employee_min": "many"},
        {"employee_min": 10.5},
        {"revenue_max": -1},
        {"employee_min": 500, "employee_max": 100},
        {"industries": 5},
    ],
)
def test_criteria_from_dict_rejects_bad_values(data):
    with pytest.raises(ValueError, match=r"employee|revenue|industries"):
        criteria_from_dict(data)
