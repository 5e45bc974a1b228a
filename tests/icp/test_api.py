"""ICP API: revisions and the profile in force, readable by every role and by integrations."""

from django.urls import reverse

from apps.icp.services import icp_revision_approve, icp_revision_create


def test_read_revisions_and_current(api_as, make_user):
    assert api_as("rep").get(reverse("api:icp:current")).status_code == 404
    leader = make_user("marketing_leader")
    first = icp_revision_create(author=leader, criteria={"industries": ["Software"]})
    icp_revision_approve(revision=first, approver=leader)
    icp_revision_approve(revision=first, approver=make_user("sales_leader"))
    icp_revision_create(author=leader, criteria={"industries": ["Retail"]})

    client = api_as("integration")
    listed = client.get(reverse("api:icp:revision_list")).json()
    current = client.get(reverse("api:icp:current")).json()

    assert [r["number"] for r in listed["results"]] == [2, 1]
    assert current["number"] == 1 and current["is_approved"] is True
    assert {a["role"] for a in current["approvals"]} == {"marketing_leader", "sales_leader"}
    detail = client.get(reverse("api:icp:revision_detail", args=[first.pk])).json()
    assert detail["criteria"] == {"industries": ["Software"]}
