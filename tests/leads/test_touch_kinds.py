"""DESIGN.md's sales-touch names and the API's first ones: one stored name per touch."""

import pytest

from apps.leads.models import SALES_TOUCH_KINDS
from apps.leads.touch_kinds import (
    DESIGN_TOUCH_KINDS,
    TOUCH_KIND_ALIASES,
    canonical_activity_kind,
)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("email", "email_sent"),
        ("email_sent", "email_sent"),
        ("call", "call"),
        ("meeting", "meeting"),
        ("sms", "sms"),
        ("social", "social"),
        ("page_view", "page_view"),
        ("fax", "fax"),  # unknown: left for the caller's validation to refuse
        (None, None),
        (3, 3),
    ],
)
def test_canonical_activity_kind(sent, stored):
    assert canonical_activity_kind(sent) == stored


def test_every_design_name_is_a_stored_touch_kind_or_an_alias_of_one():
    assert {canonical_activity_kind(kind) for kind in DESIGN_TOUCH_KINDS} == SALES_TOUCH_KINDS
    assert set(TOUCH_KIND_ALIASES.values()) <= SALES_TOUCH_KINDS
