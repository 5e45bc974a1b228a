"""The SQL pre-filter never leaves out a lead the pure engine could qualify (generated leads,
conditions and activities: case, blanks, non-ASCII text, numbers, lists)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from apps.leads.models import Activity, Lead
from apps.mql import qualification as q
from apps.mql.qualification_sql import requirements_sql
from apps.mql.rules import DefinitionError, evaluate, lead_fields, parse_definition
from apps.mql.selectors import activity_facts_by_lead

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
# Texts that differ only where lower() and casefold() or strip() disagree.
TEXTS = ["acme", "ACME", " Acme ", "\tacme", "école", "ÉCOLE", "straße", "STRASSE", "\u212aelvin",
         "kelvin", "\xa0", "", " ", "a%b", "a_b", "7", "007"]  # fmt: skip
text = st.sampled_from(TEXTS)
number = st.one_of(st.integers(min_value=-5, max_value=500), st.sampled_from([0.5, 50.0]))
scalar = st.one_of(text, number)

text_fields = st.sampled_from(["company", "industry", "title", "email_domain", "stage", "source"])
number_fields = st.sampled_from(["company_size", "annual_revenue"])
field_condition = st.one_of(
    st.builds(
        lambda f, op, v: {"field": f, "op": op, "value": v},
        text_fields,
        st.sampled_from(["equals", "not_equals", "contains"]),
        scalar,
    ),
    st.builds(
        lambda f, op, v: {"field": f, "op": op, "value": v},
        text_fields,
        st.sampled_from(["in", "not_in"]),
        st.lists(scalar, min_size=1, max_size=3),
    ),
    st.builds(
        lambda f, op, v: {"field": f, "op": op, "value": v},
        number_fields,
        st.sampled_from(["gt", "gte", "lt", "lte", "equals", "not_equals"]),
        number,
    ),
    st.builds(
        lambda f, v: {"field": f, "op": "in", "value": v},
        number_fields,
        st.lists(scalar, min_size=1, max_size=3),
    ),
    st.builds(
        lambda f, lo: {"field": f, "op": "between", "value": [lo, lo + 100]},
        number_fields,
        st.integers(min_value=0, max_value=300),
    ),
    st.builds(
        lambda f, v: {"field": f, "op": "is_set", "value": v},
        st.one_of(text_fields, number_fields),
        st.booleans(),
    ),
    st.builds(lambda v: {"field": "properties.tier", "op": "equals", "value": v}, scalar),
)
fit_group = st.recursive(
    field_condition,
    lambda children: st.builds(
        lambda match, conditions: {"match": match, "conditions": conditions},
        st.sampled_from(["all", "any"]),
        st.lists(children, min_size=1, max_size=3),
    ),
    max_leaves=4,
)
behaviour_leaf = st.builds(
    lambda kind, match, value: {
        "kind": kind,
        **({"property": "tag", "match": match, "value": value} if match else {}),
    },
    st.sampled_from(["page_view", "form_submit"]),
    st.sampled_from([None, "equals", "contains", "startswith", "in"]),
    scalar,
)
lead_values = st.fixed_dictionaries(
    {
        "company": text,
        "industry": text,
        "title": text,
        "source": text,
        "email": st.sampled_from(["kim@ACME.example", "kim@gmail.com", "", "no-at", "a@b@école"]),
        "company_size": st.one_of(st.none(), st.integers(min_value=0, max_value=500)),
        "annual_revenue": st.one_of(st.none(), st.sampled_from([0, 50, 1234.5])),
        "stage": st.sampled_from(["lead", "nurture"]),
        "properties": st.fixed_dictionaries({"tier": scalar}),
    }
)
tag = st.one_of(scalar, st.lists(text, max_size=2), st.none())
stored = st.lists(st.tuples(st.sampled_from(["page_view", "form_submit"]), tag), max_size=3)


def _definition(fit, leaf):
    rules = {"fit": fit if "conditions" in fit else {"match": "all", "conditions": [fit]}}
    rules["behaviour"] = {"conditions": [leaf]}
    if leaf.get("match") == "in":
        leaf["value"] = [leaf["value"]]
    try:
        return parse_definition(rules)
    except DefinitionError:
        return None


def _need_met(need, activities):
    if isinstance(need, q.ActivityNeed):
        return any(m.matches(a) for m in need.matches for a in activities)
    results = [_need_met(child, activities) for child in need.needs]
    return all(results) if need.match == "all" else any(results)


@pytest.mark.django_db
@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fit=fit_group, leaf=behaviour_leaf, values=lead_values, items=stored)
def test_a_lead_the_engine_could_qualify_is_never_left_out(acme, fit, leaf, values, items):
    defn = _definition(fit, leaf)
    assume(defn is not None)
    lead = Lead.objects.create(
        external_id=f"sql-{Lead.objects.count()}-{datetime.now(UTC).timestamp()}", **values
    )
    for n, (kind, value) in enumerate(items):
        Activity.objects.create(
            lead=lead,
            kind=kind,
            family="engagement",
            occurred_at=NOW - timedelta(hours=n + 1),
            external_id=f"{lead.external_id}-{n}",
            properties={} if value is None else {"tag": value},
        )
    lead.refresh_from_db()
    activities = activity_facts_by_lead(lead_ids=[lead.pk]).get(lead.pk, [])
    requirements = q.requirements(defn)
    could = evaluate(defn, fields=lead_fields(lead), activities=[], now=NOW).fit_met and (
        requirements.activities is None or _need_met(requirements.activities, activities)
    )
    sql, params = requirements_sql(requirements)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql} FROM leads_lead l WHERE l.id = %s", [*params, lead.pk])  # noqa: S608 - the compiled fragment; values are parameters
        kept = cursor.fetchone()[0]

    if could:
        assert kept is True


def test_leads_without_a_matching_fact_or_fit_are_left_out(acme):
    defn = parse_definition(
        {
            "fit": {"conditions": [{"field": "company_size", "op": "gte", "value": 50}]},
            "behaviour": {
                "conditions": [
                    {
                        "kind": "page_view",
                        "property": "url",
                        "match": "contains",
                        "value": "/pricing",
                    }
                ]
            },
        }
    )
    sql, params = requirements_sql(q.requirements(defn))

    def kept(lead):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {sql} FROM leads_lead l WHERE l.id = %s", [*params, lead.pk])  # noqa: S608 - the compiled fragment; values are parameters
            return cursor.fetchone()[0]

    small = Lead.objects.create(external_id="small", company_size=10)
    blog_only = Lead.objects.create(external_id="blog", company_size=100)
    buyer = Lead.objects.create(external_id="buyer", company_size=100)
    for lead, url in ((small, "/pricing"), (blog_only, "/blog"), (buyer, "/Pricing/plans")):
        Activity.objects.create(
            lead=lead,
            kind="page_view",
            family="engagement",
            occurred_at=NOW,
            external_id=f"{lead.external_id}-1",
            properties={"url": url},
        )
    assert [kept(small), kept(blog_only), kept(buyer)] == [False, False, True]
