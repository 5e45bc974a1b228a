"""Definition lifecycle: drafts, validation, publishing (retire then publish), comments, roles."""

import pytest
from django.db.models import Max

from apps.accounts.exceptions import Conflict, DomainError, NotAllowed
from apps.mql.models import DefinitionStatus, MqlDefinition
from apps.mql.services import (
    DefinitionInvalid,
    definition_comment_add,
    definition_draft_create,
    definition_draft_update,
    definition_publish,
)
from tests.mql.factories import MQL_RULES


@pytest.fixture
def marketer(make_user):
    return make_user("marketer")


@pytest.fixture
def leader(make_user):
    return make_user("marketing_leader")


def latest_version(kind: str) -> int:
    # Other apps' committed tests may have left versions in the shared tenant.
    return MqlDefinition.objects.filter(kind=kind).aggregate(v=Max("version"))["v"] or 0


def test_drafts_get_consecutive_versions_per_kind(marketer):
    mql_base, pql_base = latest_version("mql"), latest_version("pql")
    first = definition_draft_create(kind="mql", name="A", rules=MQL_RULES, actor=marketer)
    second = definition_draft_create(kind="mql", name="B", based_on=first, actor=marketer)
    pql = definition_draft_create(kind="pql", name="P", actor=marketer)

    assert (first.version, second.version) == (mql_base + 1, mql_base + 2)
    assert pql.version == pql_base + 1
    assert second.rules == MQL_RULES and second.status == DefinitionStatus.DRAFT
    assert second.created_by == marketer


def test_invalid_rules_are_rejected_with_every_path(marketer):
    rules = {
        "fit": {"conditions": [{"field": "company_size", "op": "bigger", "value": 5}]},
        "scoring": {"threshold": "high"},
    }
    before = MqlDefinition.objects.count()
    with pytest.raises(DefinitionInvalid) as caught:
        definition_draft_create(kind="mql", name="Bad", rules=rules, actor=marketer)

    errors = caught.value.as_dict()
    assert set(errors) == {"rules.fit.conditions[0].op", "rules.scoring.threshold"}
    assert MqlDefinition.objects.count() == before


def test_publishing_retires_the_previous_version_in_one_step(marketer, leader):
    v1 = definition_draft_create(kind="mql", name="v1", rules=MQL_RULES, actor=marketer)
    definition_publish(definition=v1, actor=leader)
    v2 = definition_draft_create(kind="mql", name="v2", based_on=v1, actor=marketer)

    published = definition_publish(definition=v2, actor=leader)

    v1.refresh_from_db()
    assert v1.status == DefinitionStatus.RETIRED
    assert published.status == DefinitionStatus.PUBLISHED and published.published_by == leader
    assert published.published_at is not None
    assert list(MqlDefinition.objects.active().values_list("pk", flat=True)) == [v2.pk]


def test_only_marketing_leaders_and_admins_publish(marketer, make_user):
    draft = definition_draft_create(kind="mql", name="v1", rules=MQL_RULES, actor=marketer)
    for role in ("marketer", "sales_leader", "executive", "rep"):
        with pytest.raises(NotAllowed):
            definition_publish(definition=draft, actor=make_user(role))
    assert definition_publish(definition=draft, actor=make_user("admin")).status == "published"


def test_published_versions_are_immutable(marketer, leader):
    v1 = definition_draft_create(kind="mql", name="v1", rules=MQL_RULES, actor=marketer)
    definition_publish(definition=v1, actor=leader)
    with pytest.raises(Conflict):
        definition_draft_update(definition=v1, actor=marketer, name="changed")
    with pytest.raises(Conflict):
        definition_publish(definition=v1, actor=leader)


def test_drafting_roles(make_user):
    for role in ("sales_leader", "rep", "executive"):
        with pytest.raises(NotAllowed):
            definition_draft_create(kind="mql", name="x", actor=make_user(role))


def test_sales_leaders_comment_reps_do_not(make_user, marketer):
    draft = definition_draft_create(kind="mql", name="v1", rules=MQL_RULES, actor=marketer)
    comment = definition_comment_add(
        definition=draft, author=make_user("sales_leader"), body="  Too loose on size.  "
    )
    assert comment.body == "Too loose on size."
    with pytest.raises(NotAllowed):
        definition_comment_add(definition=draft, author=make_user("rep"), body="hi")
    with pytest.raises(DomainError):
        definition_comment_add(definition=draft, author=make_user("sales_leader"), body="  ")
