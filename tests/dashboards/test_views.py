"""Pages: what each role sees, drill-down lists that match the tiles, reports with CSV exports,
marketing spend and report subscriptions."""

import csv
import io
import json
import re
from html import unescape

import pytest

from apps.dashboards.models import MarketingSpend, ReportSubscription
from apps.dashboards.scope import period_token
from tests.dashboards.factories import known_dataset

LAST_WEEK = "/dashboards/?period=last_week"


@pytest.fixture
def dataset(acme):
    return known_dataset()


def _tiles(html: str) -> dict[str, dict]:
    """title -> {status, counts, links} parsed from the rendered scorecard."""
    tiles = {}
    for block in re.findall(r'<article class="tile.*?</article>', html, re.S):
        title = unescape(re.search(r'class="tile-link" href="[^"]+">([^<]+)</a>', block).group(1))
        tiles[title] = {
            "status": re.search(r'data-status="(\w+)"', block).group(1),
            "counts": unescape(
                re.search(r'class="tile-counts small"><a [^>]+>([^<]+)<', block).group(1)
            ),
            "links": {
                label: unescape(href)
                for href, label in re.findall(
                    r'<a href="([^"]+)">[^<]*?(missed|pending|met)</a>', block
                )
            },
            "all": unescape(re.search(r'class="tile-link" href="([^"]+)"', block).group(1)),
        }
    return tiles


def _list_size(client, link: str) -> int:
    html = client.get(link).content.decode()
    return int(re.search(r"<h1>(\d+) lead", html).group(1))


def test_executive_sees_every_team_with_text_and_icons_and_the_extras(dataset, client_as):
    client = client_as("executive")
    response = client.get(LAST_WEEK)
    assert response.status_code == 200
    html = response.content.decode()
    tiles = _tiles(html)
    first = tiles["First contact within 4 business hours"]
    assert first["status"] == "red"
    assert first["counts"] == "6 of 10 contacted within 4 business hours"
    # Colour is never alone: the badge carries a word and a symbol.
    assert '<span class="badge red"><span aria-hidden="true">✖</span> Off target</span>' in html
    assert re.findall(r'<h2 id="team-(\w+)"', html) == ["marketing", "sales", "shared"]
    assert "Pipeline at risk" in html and "Method:" in html
    assert "Per rep" in html and "MQL sources" in html
    assert 'hx-trigger="every 60s"' in html
    assert "vendor/plotly/plotly.min.js" in html and "cdn" not in html.lower()


def test_drilldown_list_size_equals_the_tile_numbers(dataset, client_as):
    client = client_as("executive")
    tiles = _tiles(client.get(LAST_WEEK).content.decode())
    first = tiles["First contact within 4 business hours"]
    assert _list_size(client, first["links"]["met"]) == 6
    assert _list_size(client, first["links"]["missed"]) == 4
    assert _list_size(client, first["links"]["pending"]) == 0
    assert _list_size(client, first["all"]) == 10
    rejections = tiles["Rejections with a reason"]
    assert rejections["counts"] == "2 of 3 rejections carry a reason code"
    assert _list_size(client, rejections["links"]["met"]) == 2
    assert _list_size(client, rejections["all"]) == 3
    assert _list_size(client, tiles["MQL volume"]["all"]) == 10


def test_drilldown_pages_and_exports_csv(dataset, client_as):
    client = client_as("executive")
    tiles = _tiles(client.get(LAST_WEEK).content.decode())
    link = tiles["First contact within 4 business hours"]["all"]
    page = client.get(link).content.decode()
    assert page.count("<tr data-lead=") == 10
    exported = b"".join(client.get(link + "&format=csv").streaming_content).decode()
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0][:3] == ["id", "name", "email"] and len(rows) == 11


def test_drilldown_explains_the_number_outcome_due_done_and_time_taken(dataset, client_as):
    client = client_as("executive")
    tiles = _tiles(client.get(LAST_WEEK).content.decode())
    link = unescape(tiles["First contact within 4 business hours"]["all"])
    response = client.get(link)
    outcomes = [row["lead"].outcome for row in response.context["rows"]]
    assert sorted(outcomes) == ["met"] * 6 + ["missed"] * 4
    labels = [column.label for column in response.context["columns"]]
    assert labels == [
        "Lead",
        "Owner",
        "Source",
        "MQL at",
        "Due",
        "First contact",
        "Time to first contact",
        "Outcome",
    ]
    met = [row for row in response.context["rows"] if row["lead"].outcome == "met"]
    # Met within 4 business hours: every time taken is under 4 business hours.
    assert all(row["took"].endswith(("business h", "min")) for row in met), [
        row["took"] for row in met
    ]
    # Sorted by outcome, missed first; then by the time it took, longest first.
    by_outcome = client.get(link + "&sort=outcome").context["rows"]
    assert [row["lead"].outcome for row in by_outcome][:4] == ["missed"] * 4
    slowest = client.get(link + "&sort=-took").context["rows"]
    took = [row["lead"].clock_took for row in slowest if row["lead"].clock_took is not None]
    assert took == sorted(took, reverse=True) and len(took) >= 6
    # An unknown sort key falls back to the default (due time, soonest first).
    fallback = client.get(link + "&sort=password").context
    assert fallback["sort"] == "due"


def test_drilldown_csv_has_the_explaining_columns_and_is_formula_safe(dataset, client_as):
    from apps.leads.models import Lead

    client = client_as("executive")
    tiles = _tiles(client.get(LAST_WEEK).content.decode())
    link = unescape(tiles["First contact within 4 business hours"]["all"])
    listed = client.get(link).context["rows"][0]["lead"]
    Lead.objects.filter(pk=listed.pk).update(company='=HYPERLINK("http://evil")')
    exported = b"".join(client.get(link + "&format=csv&sort=outcome").streaming_content)
    rows = list(csv.reader(io.StringIO(exported.decode())))
    assert rows[0][-4:] == ["due_at", "done_at", "time_taken", "outcome"]
    assert [row[-1] for row in rows[1:5]] == ["missed"] * 4
    assert '\'=HYPERLINK("http://evil")' in [row[3] for row in rows]
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_drilldown_rejects_a_bad_link_with_a_message(dataset, client_as):
    client = client_as("executive")
    bad = client.get("/dashboards/leads/?period=fortnight:2026-01-01")
    assert bad.status_code == 400 and "is not a period" in bad.content.decode()
    assert client.get("/dashboards/leads/").status_code == 400
    missing = client.get(
        f"/dashboards/leads/?commitment=999999&period={period_token(dataset.week)}"
    )
    assert missing.status_code == 404


def test_rep_sees_own_compliance_and_own_leads_only(dataset, client_as):
    client = client_as("rep", user=dataset.rep_b)
    html = client.get(LAST_WEEK).content.decode()
    tiles = _tiles(html)
    assert tiles["First contact within 4 business hours"]["counts"] == (
        "2 of 5 contacted within 4 business hours"
    )
    # Organization-wide targets have no personal share.
    assert (
        "MQL volume" not in tiles
        and "Pipeline coverage of the quarter's revenue target" not in tiles
    )
    assert "Per rep" not in html and "Pipeline at risk" not in html
    link = tiles["First contact within 4 business hours"]["all"]
    assert _list_size(client, link) == 5
    # Removing the owner from the link does not show the team's leads.
    assert _list_size(client, link.replace(f"&owner={dataset.rep_b.pk}", "")) == 5
    assert client.get("/dashboards/reports/huddle/").status_code == 403
    charts = client.get("/dashboards/charts/?period=last_week").content.decode()
    assert "chart-coverage" not in charts and "chart-speed-to-lead" in charts


def test_marketing_and_sales_leaders_see_their_side_first(dataset, client_as):
    marketing = client_as("marketing_leader").get(LAST_WEEK).content.decode()
    assert re.findall(r'<h2 id="team-(\w+)"', marketing)[0] == "marketing"
    assert "MQL sources" in marketing and "/queue/feedback/" in marketing
    assert "Per rep" not in marketing
    sales = client_as("sales_leader").get(LAST_WEEK).content.decode()
    assert re.findall(r'<h2 id="team-(\w+)"', sales)[0] == "sales"
    assert "Per rep" in sales and "/queue/team/" in sales and "MQL sources" not in sales
    assert "Avery Rep" in sales and "Blake Rep" in sales
    marketer = client_as("marketer").get(LAST_WEEK).content.decode()
    assert "team-sales" not in marketer  # the engine's scope: marketing and shared only


def test_htmx_polling_returns_the_tiles_only(dataset, client_as):
    response = client_as("executive").get(LAST_WEEK, HTTP_HX_REQUEST="true")
    html = response.content.decode().lstrip()
    assert html.startswith('<div id="tiles"') and "<html" not in html
    assert "6 of 10 contacted" in html


def test_filters_team_source_and_custom_period(dataset, client_as):
    client = client_as("executive")
    sales_only = client.get(LAST_WEEK + "&team=sales").content.decode()
    assert re.findall(r'<h2 id="team-(\w+)"', sales_only) == ["sales"]
    paid = _tiles(client.get(LAST_WEEK + "&source=paid_search").content.decode())
    assert paid["First contact within 4 business hours"]["counts"] == (
        "2 of 4 contacted within 4 business hours"
    )
    day = dataset.week.first_day.isoformat()
    custom = client.get(f"/dashboards/?period=custom&kind=week&date={day}").content.decode()
    assert "6 of 10 contacted" in custom
    wrong = client.get("/dashboards/?period=custom&kind=week&date=nope").content.decode()
    assert "is not a date" in wrong


def test_empty_scorecard_explains_itself(client_as):
    html = client_as("executive").get("/dashboards/").content.decode()
    assert "No signed SLA was in force" in html


def test_a_new_organizations_charts_are_empty_states_not_zero_bars(client_as):
    from apps.dashboards.catalog import CHARTS

    html = unescape(client_as("executive").get("/dashboards/charts/").content.decode())

    assert "data-spec" not in html
    for spec in CHARTS.values():
        assert f'class="empty chart-empty" data-chart="{spec.name}">{spec.empty}<' in html


def test_charts_page_draws_every_chart_with_drilldown_links(dataset, client_as):
    html = client_as("executive").get("/dashboards/charts/?period=last_week").content.decode()
    for name in (
        "first-contact",
        "compliance-trend",
        "mql-volume",
        "funnel",
        "rejections",
        "reps",
        "speed-to-lead",
        "coverage",
        "revenue",
        "mql-to-sql-source",
    ):
        assert f'id="chart-{name}"' in html
    specs = [json.loads(unescape(spec)) for spec in re.findall(r'data-spec="([^"]+)"', html)]
    links = [
        link
        for spec in specs
        for trace in spec["data"]
        for link in trace.get("customdata") or []
        if link
    ]
    assert links and all(link.startswith("/dashboards/leads/?") for link in links)


# --- reports --------------------------------------------------------------------------------


def test_weekly_huddle_shows_breaches_rejections_and_campaigns(dataset, client_as):
    client = client_as("executive")
    html = unescape(client.get("/dashboards/reports/huddle/").content.decode())
    assert "Weekly huddle — " + dataset.week.label in html
    assert "Leads that breached the SLA" in html
    assert "Not the buyer" in html and "Not a decision-maker" in html
    assert "Spring webinar" in html and "Search brand" in html
    assert "6 of 10 contacted within 4 business hours" in html


def test_report_tables_export_as_csv(dataset, client_as):
    client = client_as("sales_leader")
    token = period_token(dataset.week)
    response = client.get(f"/dashboards/reports/huddle/?period={token}&csv=breaches")
    assert response["Content-Type"] == "text/csv"
    assert f"huddle-{dataset.week.first_day}-breaches.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Lead", "Company", "Source", "Owner", "Commitment", "MQL at", "Due", "Done"]
    # 4 missed first contacts + 4 missed dispositions.
    assert len(rows) - 1 == 8
    sla = list(
        csv.reader(
            io.StringIO(
                client.get(f"/dashboards/reports/huddle/?period={token}&csv=sla").content.decode()
            )
        )
    )
    assert any(row[0] == "First contact within 4 business hours" and row[2] == "60%" for row in sla)
    assert client.get(f"/dashboards/reports/huddle/?period={token}&csv=nope").status_code == 404


def test_monthly_and_qbr_render_with_cac_from_spend(dataset, client_as):
    client = client_as("executive")
    monthly = unescape(client.get("/dashboards/reports/monthly/").content.decode())
    assert "Monthly pipeline review" in monthly and "Open pipeline by source" in monthly
    assert "Trends" in monthly
    qbr_page = unescape(client.get("/dashboards/reports/qbr/").content.decode())
    assert "Revenue influenced by channel, and CAC" in qbr_page
    assert "SLA review questions for next quarter" in qbr_page
    wrong = client.get("/dashboards/reports/monthly/?period=week:2026-01-05").content.decode()
    assert "This report covers a month" in wrong


def test_qbr_cac_divides_spend_by_won_deals(dataset, client_as):
    from datetime import timedelta
    from decimal import Decimal

    from apps.compliance.periods import PeriodKind, period_for, previous
    from apps.leads.models import Lead

    # A quarter that ended before any of the dataset's leads (the oldest is 30 days before the
    # scored week), so its QBR holds only what this test adds, whatever day today is.
    quarter = previous(
        period_for(PeriodKind.QUARTER, dataset.week.start - timedelta(days=31), "UTC")
    )
    won_at = quarter.start + timedelta(days=10)
    Lead.objects.filter(pk__in=[lead.pk for lead in dataset.leads[:2]]).update(
        stage="won", closed_at=won_at, amount=Decimal(30000), source="webinar"
    )
    MarketingSpend.objects.create(month=quarter.first_day, channel="webinar", amount=Decimal(9000))
    client = client_as("executive")
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    f"/dashboards/reports/qbr/?period={period_token(quarter)}&csv=revenue"
                ).content.decode()
            )
        )
    )
    webinar = next(row for row in rows if row[0] == "webinar")
    assert webinar == ["webinar", "2", "60,000", "0", "9,000", "4,500"]


def test_subscription_toggle_with_htmx(dataset, client_as):
    client = client_as("marketing_leader")
    on = client.post(
        "/dashboards/reports/huddle/subscription/", {"active": "1"}, HTTP_HX_REQUEST="true"
    )
    assert on.status_code == 200 and "Emailed to you" in on.content.decode()
    assert ReportSubscription.objects.get(user=client.user, report="huddle").is_active
    off = client.post("/dashboards/reports/huddle/subscription/", {"active": "0"})
    assert off.status_code == 302
    assert not ReportSubscription.objects.get(user=client.user, report="huddle").is_active
    unknown = client.post(
        "/dashboards/reports/weekly/subscription/", {"active": "1"}, HTTP_HX_REQUEST="true"
    )
    assert unknown.status_code == 400 and "Unknown report" in unknown.content.decode()


# --- marketing spend ----------------------------------------------------------------------------


def test_spend_form_saves_corrects_and_validates(acme, client_as):
    client = client_as("marketing_leader")
    response = client.post(
        "/dashboards/spend/", {"month": "2026-10", "channel": "webinar", "amount": "1200.50"}
    )
    assert response.status_code == 302
    client.post("/dashboards/spend/", {"month": "2026-10", "channel": "webinar", "amount": "1500"})
    spend = MarketingSpend.objects.get()
    assert (str(spend.month), spend.amount) == ("2026-10-01", 1500)
    bad = client.post("/dashboards/spend/", {"month": "October", "channel": "", "amount": "-3"})
    html = bad.content.decode()
    assert bad.status_code == 400
    assert "Enter a month as YYYY-MM." in html and "This field is required." in html
    assert "greater than or equal to 0" in html
    page = client.get("/dashboards/spend/").content.decode()
    assert "October 2026" in page
    client.post(f"/dashboards/spend/{spend.pk}/delete/")
    assert not MarketingSpend.objects.exists()


def test_navigation_has_scorecard_charts_reports_and_spend_for_the_right_roles(acme, client_as):
    executive = client_as("executive").get("/").content.decode()
    assert "Scorecard" in executive and "Reports" in executive and "Marketing spend" in executive
    rep = client_as("rep").get("/").content.decode()
    assert "Scorecard" in rep and "Marketing spend" not in rep and ">Reports<" not in rep
    marketer = client_as("marketer").get("/").content.decode()
    assert "Marketing spend" not in marketer and "Reports" in marketer


def test_huddle_of_an_organization_without_an_sla_does_not_congratulate(acme, client_as):
    html = unescape(client_as("executive").get("/dashboards/reports/huddle/").content.decode())
    assert "No SLA clock ran in this period" in html
    assert "Well done" not in html


def test_the_custom_period_fields_are_labelled_in_words(acme, client_as):
    html = client_as("executive").get("/dashboards/").content.decode()
    assert "Custom period: a whole" in html and "containing the day" in html
    assert "Custom: a<" not in html
