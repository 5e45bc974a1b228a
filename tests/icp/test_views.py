"""ICP pages: editing makes revisions, approval by both leaders, side-by-side compare, insights, panel."""

from django.urls import reverse

from apps.icp.comparison import compare_revisions
from apps.icp.models import IcpRevision
from apps.icp.panels import lead_panel
from apps.icp.services import icp_revision_approve, icp_revision_create
from tests.mql.factories import LeadFactory


def test_editing_saves_a_new_revision_with_personas(client_as):
    client = client_as("marketer")
    response = client.post(
        reverse("icp:revision_create"),
        {
            "employee_min": "200",
            "employee_max": "5000",
            "industries": "Software, Retail",
            "regions": "US, GB",
            "seniorities": ["vp", "c_level"],
            "triggers": "Series B\nNew CDO",
            "pains": "“Month-end takes a week”",
            "watering_holes": "dbt Slack",
            "personas[0].role": "VP Data",
            "personas[0].goals": "One number",
            "personas[1].role": "",
            "summary": "First cut",
        },
    )

    revision = IcpRevision.objects.latest("number")
    assert response["Location"] == reverse("icp:revision_detail", args=[revision.pk])
    assert revision.criteria["seniorities"] == ["vp", "c_level"]
    assert revision.triggers == ["Series B", "New CDO"]
    assert [p["role"] for p in revision.personas] == ["VP Data"]
    assert revision.author == client.user
    page = client.get(reverse("icp:profile")).content.decode()
    assert "VP Data" in page and "Not approved yet" in page


def test_form_errors_keep_the_input(client_as):
    before = IcpRevision.objects.count()
    response = client_as("sales_leader").post(
        reverse("icp:revision_create"), {"employee_min": "900", "employee_max": "10"}
    )
    assert response.status_code == 200
    assert "must not be greater than" in response.content.decode()
    assert IcpRevision.objects.count() == before


def test_persona_card_fragment(client_as):
    html = (
        client_as("marketer")
        .get(reverse("icp:persona_blank") + "?index=3", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert 'name="personas[3].role"' in html and "<html" not in html


def test_both_leaders_approve_from_the_page(client_as, make_user):
    revision = icp_revision_create(author=make_user("marketer"), criteria={})
    for role in ("marketing_leader", "sales_leader"):
        client_as(role).post(reverse("icp:revision_approve", args=[revision.pk]))
    page = client_as("rep").get(reverse("icp:revision_detail", args=[revision.pk]))
    assert "Approved by both leaders" in page.content.decode()
    assert (
        client_as("marketer").post(reverse("icp:revision_approve", args=[revision.pk])).status_code
        == 403
    )


def test_compare_two_revisions_side_by_side(client_as, make_user):
    author = make_user("marketing_leader")
    left = icp_revision_create(
        author=author, criteria={"industries": ["Software", "Fintech"]}, pains=["A"]
    )
    right = icp_revision_create(
        author=author, criteria={"industries": ["Software", "Retail"]}, pains=["A"]
    )

    page = (
        client_as("rep").get(reverse("icp:compare") + f"?a={left.pk}&b={right.pk}").content.decode()
    )

    assert "+ Retail" in page and "− Fintech" in page
    rows = {
        row.key: row
        for row in compare_revisions(
            {"criteria": left.criteria, "pains": ["A"]},
            {"criteria": right.criteria, "pains": ["A"]},
        )
    }
    assert rows["industries"].added == {"Retail"} and rows["industries"].removed == {"Fintech"}
    assert not rows["pains"].changed


def test_insights_page_with_htmx_filter(client_as):
    LeadFactory(
        stage="won",
        industry="Quantum Retail",
        source="podcast-x",
        amount=1000,
        closed_at="2025-01-01T00:00:00Z",
    )
    client = client_as("executive")
    full = client.get(reverse("icp:insights") + "?dimension=industry&period=all").content.decode()
    assert "Quantum Retail" in full and "closed deals" in full
    recent = client.get(reverse("icp:insights") + "?dimension=industry&period=90").content.decode()
    assert "Quantum Retail" not in recent
    fragment = client.get(
        reverse("icp:insights") + "?dimension=source&period=all", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'id="insights"' in fragment and "<html" not in fragment and "podcast-x" in fragment


def test_lead_panel_grades_against_the_profile_in_force(acme, make_user):
    lead = LeadFactory(company_size=300, industry="Mining")
    assert lead_panel(lead=lead, user=None)["context"]["revision"] is None
    revision = icp_revision_create(
        author=make_user("marketing_leader"),
        criteria={"employee_min": 200, "industries": ["Software"]},
    )
    icp_revision_approve(revision=revision, approver=make_user("marketing_leader"))

    panel = lead_panel(lead=lead, user=None)

    assert panel["template"] == "icp/_lead_panel.html"
    assert panel["context"]["fit"].score == 50
    assert [(label, m.matched) for label, m in panel["context"]["rows"]] == [
        ("Company size", True),
        ("Industry", False),
    ]
