"""The audit log's words (pure: no database)."""

from apps.accounts.audit_wording import KINDS, describe, detail_lines, kind_of


def test_known_codes_read_as_sentences():
    assert (
        describe("user.role_changed", "sam@acme.test", {"old": "rep", "new": "admin"})
        == "changed the role of sam@acme.test from Sales rep to Admin"
    )
    assert describe("routing_rule.created", "EMEA", {"pool": ["a@x"]}) == (
        "created the routing rule “EMEA”"
    )
    assert describe("sla.signed", "SLA v2", {"summary": "Signed for sales"}) == (
        "signed SLA v2: Signed for sales"
    )


def test_an_unknown_code_still_reads_as_words():
    assert describe("routing_rule.archived", "EMEA", {}) == "archived routing rule EMEA"
    assert describe("brand_new.thing_done", "", {}) == "thing done brand new"


def test_details_are_label_and_value_in_the_zone_never_a_dict():
    lines = detail_lines(
        "sla.edited",
        {
            "summary": "Changed effective at",
            "effective_at": {
                "from": "2026-12-10T00:00:00+00:00",
                "to": "2026-12-11T14:00:00+00:00",
            },
            "conditions": [{"field": "company_size", "op": "gte", "value": 500}],
            "active": True,
        },
        zone="America/New_York",
    )
    assert lines == [
        "Effective at: 9 Dec 2026 19:00 EST → 11 Dec 2026 09:00 EST",
        "Conditions: Company size at least 500",
        "Active: yes",
    ]


def test_what_the_sentence_says_is_not_repeated():
    assert detail_lines("user.role_changed", {"old": "rep", "new": "admin"}, zone="UTC") == []


def test_every_code_the_services_write_has_a_kind():
    for code in (
        "user.invited",
        "api_key.revoked",
        "sla.signed",
        "calendar.changed",
        "mql.published",
        "icp.approved",
        "routing_rule.moved",
        "lead.reassigned",
        "import.started",
        "webhook.rotated",
        "reason_code.retired",
        "disposition.undone",
        "alert_settings.changed",
        "spend.set",
    ):
        assert kind_of(code) in KINDS, code
