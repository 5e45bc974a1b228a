"""The rule builder's form <-> JSON mapping and edits (pure)."""

from apps.mql.rule_builder import apply_edit, builder_view, form_to_rules, path_tokens
from apps.mql.rules import parse_definition


def test_path_tokens():
    assert path_tokens("fit.conditions[1].conditions[0].value") == [
        "fit",
        "conditions",
        1,
        "conditions",
        0,
        "value",
    ]


def test_form_fields_become_typed_definition_json():
    form = {
        "fit.match": "all",
        "fit.node": "group",
        "fit.conditions[0].node": "field",
        "fit.conditions[0].field": "company_size",
        "fit.conditions[0].op": "between",
        "fit.conditions[0].value": "50, 5000",
        "fit.conditions[1].node": "group",
        "fit.conditions[1].match": "any",
        "fit.conditions[1].conditions[0].node": "field",
        "fit.conditions[1].conditions[0].field": "country",
        "fit.conditions[1].conditions[0].op": "in",
        "fit.conditions[1].conditions[0].value": "US, GB",
        "behaviour.match": "any",
        "behaviour.conditions[0].node": "behaviour",
        "behaviour.conditions[0].kind": "page_view",
        "behaviour.conditions[0].property": "url",
        "behaviour.conditions[0].match": "contains",
        "behaviour.conditions[0].value": "/pricing",
        "behaviour.conditions[0].min_count": "2",
        "behaviour.conditions[0].within_days": "7",
        "behaviour.conditions[0].count": "activities",
        "scoring.threshold": "40",
        "scoring.caps[0].group": "engagement",
        "scoring.caps[0].points": "25",
        "scoring.rules[0].id": "pricing",
        "scoring.rules[0].points": "30",
        "scoring.rules[0].group": "engagement",
        "scoring.rules[0].signal.type": "activity",
        "scoring.rules[0].signal.kind": "page_view",
        "scoring.rules[0].signal.property": "url",
        "scoring.rules[0].signal.match": "contains",
        "scoring.rules[0].signal.value": "/pricing",
        "scoring.rules[0].decay.type": "half_life",
        "scoring.rules[0].decay.days": "7",
        "scoring.rules[1].id": "free_mail",
        "scoring.rules[1].points": "-10",
        "scoring.rules[1].signal.type": "field",
        "scoring.rules[1].signal.field": "email_domain",
        "scoring.rules[1].signal.op": "in",
        "scoring.rules[1].signal.value": "gmail.com, yahoo.com",
        "scoring.rules[1].decay.type": "none",
        "name": "ignored here",
    }

    rules = form_to_rules(form)

    assert rules["fit"]["conditions"][0] == {
        "field": "company_size",
        "op": "between",
        "value": [50, 5000],
    }
    assert rules["fit"]["conditions"][1] == {
        "match": "any",
        "conditions": [{"field": "country", "op": "in", "value": ["US", "GB"]}],
    }
    assert rules["behaviour"]["conditions"][0]["min_count"] == 2
    assert rules["scoring"]["caps"] == {"engagement": 25}
    assert rules["scoring"]["rules"][0]["decay"] == {"type": "half_life", "days": 7}
    assert rules["scoring"]["rules"][1] == {
        "id": "free_mail",
        "signal": {
            "type": "field",
            "field": "email_domain",
            "op": "in",
            "value": ["gmail.com", "yahoo.com"],
        },
        "points": -10,
    }
    parse_definition(rules)  # valid as typed


def test_text_that_is_not_a_number_stays_text_for_the_parser_to_reject():
    rules = form_to_rules(
        {
            "fit.conditions[0].node": "field",
            "fit.conditions[0].field": "company_size",
            "fit.conditions[0].op": "gte",
            "fit.conditions[0].value": "lots",
        }
    )
    assert rules["fit"]["conditions"][0]["value"] == "lots"


def test_edits_add_and_remove_nodes():
    rules = {
        "fit": {"match": "all", "conditions": []},
        "behaviour": {"match": "any", "conditions": []},
    }
    rules = apply_edit(rules, "add_condition:fit")
    rules = apply_edit(rules, "add_group:fit")
    rules = apply_edit(rules, "add_condition:fit.conditions[1]")
    rules = apply_edit(rules, "add_condition:behaviour")
    rules = apply_edit(rules, "add_rule")
    rules = apply_edit(rules, "add_rule")
    rules = apply_edit(rules, "add_cap")

    assert len(rules["fit"]["conditions"]) == 2
    assert len(rules["fit"]["conditions"][1]["conditions"]) == 2
    assert [r["id"] for r in rules["scoring"]["rules"]] == ["rule_1", "rule_2"]
    assert rules["scoring"]["caps"] == {"group_1": 50}

    rules = apply_edit(rules, "remove:fit.conditions[0]")
    rules = apply_edit(rules, "remove_rule:0")
    rules = apply_edit(rules, "remove_cap:group_1")
    rules = apply_edit(rules, "remove:fit.conditions[7]")  # stale: ignored

    assert rules["fit"]["conditions"][0]["match"] == "any"
    assert [r["id"] for r in rules["scoring"]["rules"]] == ["rule_2"]
    assert rules["scoring"]["caps"] == {}


def test_errors_are_attached_to_their_node_and_attribute():
    rules = {
        "fit": {
            "match": "all",
            "conditions": [
                {"field": "company_size", "op": "gte", "value": "lots"},
                {"match": "any", "conditions": [{"field": "country", "op": "in", "value": []}]},
            ],
        },
        "scoring": {
            "threshold": "x",
            "rules": [
                {
                    "id": "r",
                    "signal": {"type": "activity"},
                    "points": 1,
                    "decay": {"type": "linear"},
                }
            ],
        },
    }
    errors = [
        ("fit.conditions[0].value", "must be a number"),
        ("fit.conditions[1].conditions[0].value", "must be a non-empty list"),
        ("scoring.threshold", "must be a number"),
        ("scoring.rules[0].signal.kind", "is required"),
        ("scoring.rules[0].decay.days", "must be a number"),
        ("somewhere.else", "odd"),
    ]

    view = builder_view(rules, errors)

    assert view.fit.children[0].errors == {"value": ["must be a number"]}
    assert view.fit.children[1].children[0].errors == {"value": ["must be a non-empty list"]}
    assert view.fit.errors == {}
    assert view.scoring_errors == {"threshold": ["must be a number"]}
    assert view.rules[0].errors == {
        "signal_kind": ["is required"],
        "decay_days": ["must be a number"],
    }
    assert view.errors == {"somewhere.else": ["odd"]}
