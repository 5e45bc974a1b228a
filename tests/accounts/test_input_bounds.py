"""The one set of rules for inbound text, dates and JSON documents (pure, no database)."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from apps.accounts import input_bounds as ib


def test_text_that_cannot_be_stored_is_named():
    assert ib.text_problem("plain é ✓") is None
    assert ib.text_problem("a\x00b") == ib.NUL_MESSAGE
    assert ib.text_problem("a\ud800b") == ib.SURROGATE_MESSAGE


def test_problems_are_found_anywhere_and_reported_by_top_level_key():
    item = {"name": "ok", "properties": {"deep": [{"x": "bad\x00"}]}, "\ud800key": 1}
    assert ib.text_problems_by_key(item) == {
        "properties": [ib.NUL_MESSAGE],
        "non_field_errors": [ib.SURROGATE_MESSAGE],
    }
    assert ib.text_problems_by_key({"fine": ["a", {"b": "c"}]}) == {}


@pytest.mark.parametrize("depth", [33, 5_000, 100_000])
def test_deep_json_is_refused_quickly(depth):
    with pytest.raises(ib.JsonDocumentError, match="nested deeper"):
        ib.json_document_parse("[" * depth + "]" * depth)
    with pytest.raises(ib.JsonDocumentError, match="nested deeper"):
        ib.json_document_parse('{"a":' * depth + "1" + "}" * depth)


def test_json_documents_must_be_utf8_and_standard():
    assert ib.json_document_parse(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert ib.json_depth({"a": [1, {"b": 2}]}) == 3
    with pytest.raises(ib.JsonDocumentError, match="UTF-8"):
        ib.json_document_parse(b'{"a": "\xff"}')
    with pytest.raises(ib.JsonDocumentError, match="Malformed"):
        ib.json_document_parse(b'{"a": NaN}')
    with pytest.raises(ib.JsonDocumentError, match="Malformed"):
        ib.json_document_parse(b"{")


def test_moments_outside_the_supported_years_never_raise():
    plus14 = timezone(timedelta(hours=14))
    assert not ib.is_moment_in_range(datetime(1, 1, 1, tzinfo=plus14))
    assert not ib.is_moment_in_range(
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
    )
    assert ib.is_moment_in_range(datetime(2026, 3, 1, tzinfo=UTC))
    assert not ib.is_date_in_range(date(1, 1, 1)) and ib.is_date_in_range(date(2026, 1, 1))


def test_filters_clamp_into_the_range():
    assert ib.date_clamped(date(1, 1, 1)) == ib.EARLIEST_DATE
    assert ib.date_clamped(date(9999, 12, 31)) == ib.LATEST_DATE
    assert ib.date_clamped(date(2026, 5, 5)) == date(2026, 5, 5)
    assert ib.moment_clamped(datetime(1, 1, 1, tzinfo=UTC)) == ib.EARLIEST_MOMENT
    assert ib.moment_clamped(datetime(9999, 1, 1, tzinfo=UTC)) == ib.LATEST_MOMENT


def test_printable_replaces_what_cannot_be_stored():
    assert ib.printable({"a\x00": ["x\ud800", 3]}) == {"a\ufffd": ["x\ufffd", 3]}
    assert ib.printable("fine") == "fine"
