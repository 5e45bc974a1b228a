"""One CSV export helper: no cell of any CSV the product writes runs as a formula."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.accounts.csv_export import csv_cell, csv_lines, csv_text

FORMULAS = [
    '=HYPERLINK("http://evil.test","x")',
    "=cmd|' /C calc'!A0",
    "@SUM(1)",
    "+1+1",
    "-2+3",
    "\t=1",
]


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_looking_text_is_neutralised(value):
    assert csv_cell(value) == "'" + value


def test_numbers_and_moments_stay_as_they_are():
    assert csv_cell(-12) == -12 and csv_cell(Decimal("-3.50")) == Decimal("-3.50")
    assert csv_cell("-12.5") == "-12.5" and csv_cell("-1,234") == "-1,234"
    assert csv_cell(None) == "" and csv_cell(True) == "true"
    assert csv_cell(datetime(2026, 1, 2, 3, tzinfo=UTC)) == "2026-01-02T03:00:00+00:00"


def test_lines_and_text_agree():
    rows = [["=1", 2], ["plain", None]]
    streamed = "".join(csv_lines(["a", "b"], rows))
    assert streamed == csv_text(["a", "b"], rows)
    assert list(csv.reader(io.StringIO(streamed))) == [["a", "b"], ["'=1", "2"], ["plain", ""]]
