"""Pure dashboard arithmetic: rates, bins, Pareto, CAC, pipeline at risk."""

from decimal import Decimal

import pytest

from apps.dashboards import calculations as calc


def test_rate_is_none_without_a_denominator():
    assert calc.rate(3, 4) == 0.75
    assert calc.rate(0, 0) is None


def test_coverage_ratio_needs_a_positive_target():
    assert calc.coverage_ratio(Decimal(320000), Decimal(100000)) == pytest.approx(3.2)
    assert calc.coverage_ratio(Decimal(1), 0) is None
    assert calc.coverage_ratio(Decimal(1), None) is None


def test_cac_divides_spend_by_customers_won():
    assert calc.cac(Decimal("10000"), 3) == Decimal("3333.33")
    assert calc.cac(Decimal("10000"), 0) is None
    assert calc.cac(None, 2) is None


def test_contact_edges_include_the_sla_and_bins_are_half_open():
    edges = calc.contact_hour_edges(3)
    assert 3.0 in edges and edges == sorted(edges)
    # [0, .25) [.25, .5) [.5, 1) [1, 2) [2, 3) [3, 4) ... last bin open-ended
    counts = calc.hour_bins([0, 0.25, 2.99, 3.0, 100], edges)
    assert counts[0] == 1 and counts[1] == 1
    assert counts[edges.index(2.0)] == 1
    assert counts[edges.index(3.0)] == 1
    assert counts[-1] == 1
    assert sum(counts) == 5


@pytest.mark.parametrize(
    ("lower", "upper", "label"),
    [(0, 0.25, "0–15 min"), (1, 2, "1–2 h"), (40, None, "40 h +"), (0.5, 1, "30–60 min")],
)
def test_edge_labels(lower, upper, label):
    assert calc.edge_label(lower, upper) == label


def test_pareto_cumulative_shares():
    assert calc.pareto_cumulative([5, 3, 2]) == [0.5, 0.8, 1.0]
    assert calc.pareto_cumulative([]) == []
    assert calc.pareto_cumulative([0, 0]) == [0.0, 0.0]


def test_pipeline_at_risk_uses_the_organizations_own_gap():
    risk = calc.pipeline_at_risk(
        missed=10,
        in_sla_won=30,
        in_sla_total=100,
        out_sla_won=10,
        out_sla_total=100,
        average_won_amount=Decimal("25000"),
    )
    # 10 × (30% − 10%) × 25 000 = 50 000
    assert risk.amount == Decimal(50000)
    assert "10 missed" in risk.method and "30%" in risk.method and "10%" in risk.method


def test_pipeline_at_risk_floors_a_negative_gap_and_needs_history():
    better_late = calc.pipeline_at_risk(
        missed=4,
        in_sla_won=1,
        in_sla_total=10,
        out_sla_won=5,
        out_sla_total=10,
        average_won_amount=Decimal(1000),
    )
    assert better_late.amount == 0
    unknown = calc.pipeline_at_risk(
        missed=4,
        in_sla_won=0,
        in_sla_total=0,
        out_sla_won=1,
        out_sla_total=3,
        average_won_amount=Decimal(1000),
    )
    assert unknown.amount is None and "n/a" in unknown.method
