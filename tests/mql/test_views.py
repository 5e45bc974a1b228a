"""Definition pages: the htmx rule builder (round trip, edits, errors in place), publishing, back-test."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.mql.demo import MQL_V1
from apps.mql.models import (
    BacktestRun,
    DefinitionComment,
    DefinitionStatus,
    MqlDefinition,
    MqlEvent,
)
from apps.mql.rules import parse_definition
from apps.mql.services import definition_draft_create
from tests.mql.factories import LeadFactory, demo_request, published_definition


class FormFields(HTMLParser):
    """The values a browser would submit for every named input, select and textarea."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("radio", "checkbox", "submit"):
            self.values[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, None)
        elif tag == "option" and self._select:
            if self.values[self._select] is None or "selected" in a:
                self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data.lstrip("\n")


def form_values(response) -> dict[str, str]:
    parser = FormFields()
    parser.feed(response.content.decode())
    return {k: v for k, v in parser.values.items() if k != "csrfmiddlewaretoken"}


@pytest.fixture
def draft(make_user):
    return definition_draft_create(
        kind="mql", name="Demo rules", rules=MQL_V1, actor=make_user("marketing_leader")
    )


def test_the_builder_round_trips_a_rich_definition_unchanged(client_as, draft):
    client = client_as("marketer")
    page = client.get(reverse("mql:definition_edit", args=[draft.pk]))
    assert page.status_code == 200

    response = client.post(reverse("mql:definition_edit", args=[draft.pk]), form_values(page))

    assert response.status_code == 200 and b"rb-saved" in response.content
    draft.refresh_from_db()
    assert parse_definition(draft.rules) == parse_definition(MQL_V1)


def test_builder_edits_return_the_fragment_without_saving(client_as, draft):
    client = client_as("marketer")
    values = form_values(client.get(reverse("mql:definition_edit", args=[draft.pk])))
    url = reverse("mql:definition_builder", args=[draft.pk])

    added = client.post(url, {**values, "edit": "add_group:fit"}, HTTP_HX_REQUEST="true")

    html = added.content.decode()
    assert added.status_code == 200 and not html.lstrip().startswith("<!doctype")
    assert 'id="builder"' in html and 'name="fit.conditions[2].node" value="group"' in html
    draft.refresh_from_db()
    assert len(draft.rules["fit"]["conditions"]) == 2  # nothing saved

    removed = client.post(
        url, {**values, "edit": "remove:behaviour.conditions[0]"}, HTTP_HX_REQUEST="true"
    )
    assert 'name="behaviour.conditions[2].kind"' not in removed.content.decode()


def test_errors_show_next_to_the_input_and_nothing_is_saved(client_as, draft):
    client = client_as("marketer")
    values = form_values(client.get(reverse("mql:definition_edit", args=[draft.pk])))
    values["fit.conditions[0].value"] = "lots"
    values["scoring.rules[0].decay.days"] = "-3"

    response = client.post(
        reverse("mql:definition_edit", args=[draft.pk]), values, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    condition = html[html.index('id="rb-fit-conditions-0"') :]
    assert "must be a number" in condition[: condition.index('id="rb-fit-conditions-1"')]
    rule = html[html.index('id="rb-scoring-rules-0"') :]
    assert "must be greater than 0" in rule[: rule.index('id="rb-scoring-rules-1"')]
    assert "Not saved" in html
    draft.refresh_from_db()
    assert draft.rules == MQL_V1


def test_fit_alone_is_saved_with_the_warning(client_as, draft):
    client = client_as("marketing_leader")
    values = form_values(client.get(reverse("mql:definition_edit", args=[draft.pk])))
    values = {k: v for k, v in values.items() if not k.startswith("behaviour.conditions")}

    response = client.post(
        reverse("mql:definition_edit", args=[draft.pk]), values, HTTP_HX_REQUEST="true"
    )

    assert "fit alone floods sales with non-buyers" in response.content.decode()
    draft.refresh_from_db()
    assert draft.rules["behaviour"]["conditions"] == []
    detail = client.get(reverse("mql:definition_detail", args=[draft.pk]))
    assert "fit alone floods sales with non-buyers" in detail.content.decode()


def test_published_versions_open_read_only(client_as, draft):
    client = client_as("marketing_leader")
    client.post(reverse("mql:definition_publish", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.PUBLISHED

    response = client.get(reverse("mql:definition_edit", args=[draft.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("mql:definition_detail", args=[draft.pk])
    page = client.get(reverse("mql:definition_detail", args=[draft.pk])).content.decode()
    assert "Pricing page visit" in page and "Publish v" not in page


def test_a_marketer_cannot_publish_even_by_posting(client_as, draft):
    response = client_as("marketer").post(reverse("mql:definition_publish", args=[draft.pk]))
    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.status == DefinitionStatus.DRAFT


def test_new_draft_from_the_published_version(client_as, acme):
    published = published_definition()
    client = client_as("marketer")

    response = client.post(
        reverse("mql:definition_create"), {"kind": "mql", "based_on": published.pk}
    )

    draft = MqlDefinition.objects.filter(status=DefinitionStatus.DRAFT).latest("pk")
    assert response["Location"] == reverse("mql:definition_edit", args=[draft.pk])
    assert draft.rules == published.rules and draft.version == published.version + 1


def test_a_sales_leader_comments_with_htmx(client_as, draft):
    response = client_as("sales_leader").post(
        reverse("mql:definition_comment", args=[draft.pk]),
        {"body": "Raise the size floor."},
        HTTP_HX_REQUEST="true",
    )
    assert "Raise the size floor." in response.content.decode()
    assert DefinitionComment.objects.get(definition=draft).author.role == "sales_leader"


def test_backtest_from_the_page(client_as, draft):
    published_definition()
    lead = LeadFactory(company_size=800)
    demo_request(lead, timezone.now() - timedelta(days=2))
    client = client_as("marketing_leader")

    response = client.post(reverse("mql:backtest_start", args=[draft.pk]), {"days": 30})

    run = BacktestRun.objects.get(definition=draft)
    assert response["Location"] == reverse("mql:backtest_detail", args=[run.pk])
    page = client.get(response["Location"]).content.decode()
    assert 'data-metric="draft-mqls">1<' in page
    assert 'data-metric="baseline-mqls">1<' in page


def test_lists_show_versions_and_empty_state(client_as, acme):
    # Start from an empty organization (rolled back with the test's transaction).
    MqlEvent.objects.all().delete()
    MqlDefinition.objects.all().delete()
    page = client_as("rep").get(reverse("mql:definition_list")).content.decode()
    assert "No MQL definition yet" in page and "New MQL draft" not in page

    published = published_definition()
    page = client_as("marketer").get(reverse("mql:definition_list")).content.decode()
    assert f"v{published.version}" in page and "Published" in page and "New MQL draft" in page


def test_a_running_backtest_polls_until_done(client_as, draft):
    run = BacktestRun.objects.create(
        definition=draft, days=30, window_end=timezone.now(), total=2000, processed=500
    )
    client = client_as("sales_leader")
    url = reverse("mql:backtest_detail", args=[run.pk])

    running = client.get(url, HTTP_HX_REQUEST="true").content.decode()

    assert 'hx-trigger="every 1s"' in running and "500 of 2000 leads replayed (25%)" in running
    run.status, run.processed, run.result = "done", 2000, {"weeks": [], "draft": {"mqls": 0}}
    run.save()
    done = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "every 1s" not in done and 'data-metric="draft-mqls">0<' in done
