"""metric_sql.hour_bins_sql bins and ranks in the database exactly as the dashboards'
pure histogram (calculations.hour_bins) and the reference percentile (metrics.percentile,
linear interpolation) do over the same hours."""

import random

import pytest
from django.db import connection

from apps.compliance import metric_sql, metrics
from apps.dashboards import calculations

EDGES = calculations.contact_hour_edges(4.0)


def _binned(hours: list[float | None], edges=EDGES):
    outcomes = metric_sql.Query("SELECT h AS hours FROM unnest(%s::float8[]) AS t(h)", (hours,))
    query = metric_sql.hour_bins_sql(outcomes, edges)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        return cursor.fetchone()


@pytest.mark.django_db
def test_bins_and_percentiles_equal_the_pure_computation():
    rng = random.Random(7)
    hours = [rng.choice([0.0, 0.25, 4.0, 3.999, 100.0]) for _ in range(40)]
    hours += [rng.uniform(-1, 60) for _ in range(400)]  # below the first edge too
    counts, median, p90 = _binned([*hours, None, None])

    assert counts == calculations.hour_bins(hours, EDGES)
    assert sum(counts) == len(hours)  # the NULLs (no touch known) are not counted
    assert median == pytest.approx(metrics.percentile(hours, 0.5), abs=1e-12)
    assert p90 == pytest.approx(metrics.percentile(hours, 0.9), abs=1e-12)


@pytest.mark.django_db
def test_no_contacted_event_gives_empty_bins_and_no_percentiles():
    counts, median, p90 = _binned([None])

    assert counts == [0] * len(EDGES)
    assert (median, p90) == (None, None)


def test_a_histogram_needs_an_edge():
    with pytest.raises(ValueError, match="at least one edge"):
        metric_sql.hour_bins_sql(metric_sql.Query("SELECT 1.0 AS hours", ()), [])
