"""From an empty organization to a scored month through HTTP only, as a customer's integration does.

One management command creates the organization; everything after that is a request to a real
web server over a socket: users, the business calendar (and its preview), routing rules, the
MQL definition, the SLA drafted and signed with both leaders' personal tokens, reason codes,
leads, activities sent twice and out of order, touches, dispositions, then compliance per week
and per month, as of chosen moments. The README's "From zero by API" section is this path.

The month is the calendar month before the current one (in the organization's zone), so the
test runs the same on any day; the facts sit on working days of its first two full weeks.

Tokens, without a browser either: the admin's first one from `manage.py create_token`, the
leaders' from the password-to-token exchange (with the `sign` scope signing needs), the
integration's organization API key from `POST api-keys/`.
"""

from __future__ import annotations

import json
import random
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.clock import shifted_now
from tests.support.processes import ROOT, child_env, live_server, python_argv

SUBDOMAIN = "fromzero"
PASSWORD = "kettle-orbit-pine-58"
ADMIN = "admin@fromzero.test"
TZ = ZoneInfo("Europe/Berlin")
USERS = [
    ("maya@fromzero.test", "Maya Patel", "marketing_leader"),
    ("sam@fromzero.test", "Sam Okafor", "sales_leader"),
    ("cro@fromzero.test", "Carla Chen", "executive"),
    ("riley@fromzero.test", "Riley Brooks", "rep"),
    ("jordan@fromzero.test", "Jordan Kim", "rep"),
]


# --- processes ------------------------------------------------------------------------------


def manage(*args: str) -> str:
    done = subprocess.run(
        python_argv("manage.py", *args),
        cwd=ROOT,
        env=child_env(HANDOFF_ADMIN_PASSWORD=PASSWORD),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done.stdout.strip()


DROP = f"""
from apps.tenants.models import Organization
for org in Organization.objects.filter(subdomain="{SUBDOMAIN}"):
    org.delete(force_drop=True)
"""


def first_token() -> str:
    """The admin's first token: the one command besides the organization's."""
    return manage(
        "create_token", "--organization", SUBDOMAIN, "--email", ADMIN,
        "--scopes", "read,write,admin",
    ).splitlines()[-1]  # fmt: skip


def personal_token(port: int, email: str, scopes: list[str]) -> str:
    """A person's token for their password (the token exchange)."""
    status, body = Api(port, None).call(
        "POST", "auth/token/", {"email": email, "password": PASSWORD, "scopes": scopes}
    )
    assert status == 201, body
    return body["token"]


def organization_key(admin: Api) -> str:
    """The integration's organization API key, created by the admin."""
    return admin.ok("POST", "api-keys/", {"name": "CRM sync"})["token"]


def _body(raw: bytes):
    """JSON, or the text of a non-JSON answer (the debug server's 404 page)."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")[:500]


class Api:
    """JSON over HTTP to the organization's host, with a bearer token."""

    def __init__(self, port: int, token: str | None) -> None:
        self.port, self.token = port, token

    def call(self, method: str, path: str, body=None, *, query: str = "") -> tuple[int, object]:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}" + (f"?{query}" if query else "")
        request = urllib.request.Request(
            url,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Host": f"{SUBDOMAIN}.localhost:{self.port}",
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {self.token}"} if self.token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - local test server
                return response.status, _body(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _body(error.read())

    def ok(self, method: str, path: str, body=None, *, params=None, expect=(200, 201)):
        query = urllib.parse.urlencode(params or {})
        status, data = self.call(method, path, body, query=query)
        assert status in expect, f"{method} {path} -> {status}: {data}"
        return data


# --- the month and its facts -------------------------------------------------------------


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def the_month() -> tuple[date, date, date]:
    """First day of last month, and the Mondays of its first two full working weeks."""
    today = shifted_now().astimezone(TZ).date()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    return first, monday, monday + timedelta(weeks=1)


def plan(week1: date, week2: date) -> dict:
    """Who visited pricing when (their MQL moment), who was called when, and what sales said."""
    tue1, wed1, fri1 = week1 + timedelta(1), week1 + timedelta(2), week1 + timedelta(4)
    tue2, wed2 = week2 + timedelta(1), week2 + timedelta(2)
    thu2, fri2 = week2 + timedelta(3), week2 + timedelta(4)
    return {
        # external_id: (MQL at, first touch or None, disposition or None)
        "zero-a1": (local(tue1, 10), local(tue1, 10, 30), ("accepted", None)),
        "zero-a2": (local(tue1, 11), local(tue1, 11, 20), ("accepted", None)),
        # Its Wednesday visit arrives first; the Tuesday one later re-dates the MQL.
        "zero-a3": (local(tue1, 12), local(tue1, 12, 30), ("rejected", "Timeline too long")),
        "zero-a4": (
            local(wed1, 10),
            local(wed1, 10, 45),
            ("nurture", "Unresponsive after multiple touches"),
        ),
        "zero-a5": (local(wed1, 11), local(fri1, 11), ("working", None)),  # late
        "zero-b1": (local(tue2, 10), local(tue2, 10, 15), None),
        "zero-b2": (local(tue2, 11), local(thu2, 11), None),  # late
        "zero-b3": (local(wed2, 10), local(fri2, 10), None),  # late
        "zero-b4": (local(wed2, 11), None, None),  # never called
        "_wed1": local(wed1, 11),
    }


# --- the journey -------------------------------------------------------------------------------


@pytest.fixture
def organization(db):
    manage("shell", "-c", DROP)
    manage(
        "create_organization",
        "--name",
        "From Zero GmbH",
        "--subdomain",
        SUBDOMAIN,
        "--admin-email",
        ADMIN,
    )
    yield
    manage("shell", "-c", DROP)


def test_from_an_empty_organization_to_a_scored_month(organization, tmp_path):
    first_day, week1, week2 = the_month()
    facts = plan(week1, week2)
    wed1_11 = facts.pop("_wed1")
    with live_server(tmp_path) as port:
        admin = Api(port, first_token())

        # 1. People, by the admin.
        for email, name, role in USERS:
            admin.ok(
                "POST", "users/", {"email": email, "name": name, "role": role, "password": PASSWORD}
            )
        signer = ["read", "write", "sign"]
        marketing = Api(port, personal_token(port, "maya@fromzero.test", signer))
        sales = Api(port, personal_token(port, "sam@fromzero.test", signer))
        crm = Api(port, organization_key(admin))

        # 2. The business calendar: Berlin, Mon–Fri 09–17; its preview answers like the page.
        calendar = admin.ok("GET", "sla/calendars/")["results"][0]
        admin.ok(
            "PATCH",
            f"sla/calendars/{calendar['id']}/",
            {"timezone": "Europe/Berlin", "week": [[["09:00", "17:00"]]] * 5 + [[], []]},
        )
        saturday = week1 + timedelta(days=5)
        status, preview = admin.call(
            "GET",
            f"sla/calendars/{calendar['id']}/preview/",
            # an unencoded "+" (a space once decoded) is read as the offset's sign
            query=f"arrival={saturday.isoformat()}T10:00+01:00&hours=4",
        )
        assert status == 200, preview
        assert preview["due_at"].startswith((week1 + timedelta(weeks=1)).isoformat())

        # 3. Routing: every MQL goes round robin to the two reps.
        sales.ok(
            "POST",
            "routing-rules/",
            {
                "name": "Everyone",
                "is_fallback": True,
                "pool": ["riley@fromzero.test", "jordan@fromzero.test"],
            },
        )

        # 4. The MQL definition: a company of 50+ people that visited pricing in the last 7 days.
        definition = marketing.ok(
            "POST",
            "mql/definitions/",
            {
                "name": "Pricing intent",
                "rules": {
                    "fit": {
                        "match": "all",
                        "conditions": [{"field": "company_size", "op": "gte", "value": 50}],
                    },
                    "behaviour": {
                        "match": "any",
                        "conditions": [
                            {
                                "id": "pricing",
                                "kind": "page_view",
                                "property": "url",
                                "match": "contains",
                                "value": "/pricing",
                                "min_count": 1,
                                "within_days": 7,
                            }
                        ],
                    },
                },
            },
        )
        marketing.ok("POST", f"mql/definitions/{definition['id']}/publish/")

        # 5. The SLA: drafted by marketing, in force from before the month, signed by both.
        version = marketing.ok("POST", "sla/versions/", {})
        pk = version["id"]
        assert version["mql_definition"] == definition["id"]
        effective = local(first_day - timedelta(days=14), 0).isoformat()
        marketing.ok("PATCH", f"sla/versions/{pk}/", {"effective_at": effective})
        for commitment in (
            {
                "owner_team": "sales",
                "metric": "first_contact_time",
                "review_period": "week",
                "params": {"hours": 4, "clock": "business"},
                "target": 0.8,
                "yellow_threshold": 0.6,
            },
            {
                "owner_team": "marketing",
                "metric": "mql_volume",
                "review_period": "month",
                "target": 20,
                "yellow_threshold": 15,
            },
            {
                "owner_team": "shared",
                "metric": "mql_to_sql_rate",
                "review_period": "month",
                "target": 0.3,
                "yellow_threshold": 0.2,
            },
        ):
            version = marketing.ok("POST", f"sla/versions/{pk}/commitments/", commitment)
        first_contact = version["commitments"][0]["id"]
        sales.ok(
            "POST",
            f"sla/versions/{pk}/escalation-rules/",
            {"commitment": first_contact, "threshold": 0.8, "periods": 2},
        )
        content_hash = marketing.ok("POST", f"sla/versions/{pk}/submit/")["content_hash"]
        for leader in (marketing, sales):
            leader.ok("POST", f"sla/versions/{pk}/sign/", {"content_hash": content_hash})
        assert admin.ok("GET", "sla/versions/active/")["id"] == pk

        # 6. Reason codes: "Timeline too long" is a rejection reason out of the box.
        codes = admin.ok("GET", "reason-codes/", params={"outcome": "rejected", "active": "true"})
        assert "Timeline too long" in {c["label"] for c in codes["results"]}
        sales.ok("POST", "reason-codes/", {"label": "Wrong region", "outcome": "rejected"})

        # 7. Leads, then their activities: duplicates, shuffled, the re-dating fact last.
        leads = [
            {
                "external_id": key,
                "email": f"{key}@prospect.test",
                "company": key.upper(),
                "company_size": 400,
                "country": "DE",
                "source": "paid_search",
            }
            for key in facts
        ]
        leads += [
            {"external_id": "zero-small", "company_size": 10, "country": "DE"},
            {"external_id": "zero-blog", "company_size": 900, "country": "DE"},
        ]
        assert crm.ok("POST", "leads/upsert/", leads)["created"] == len(leads)
        visits = [
            {
                "external_id": f"pv-{key}",
                "lead": key,
                "kind": "page_view",
                "occurred_at": at.isoformat(),
                "properties": {"url": "/pricing"},
            }
            for key, (at, _, _) in facts.items()
        ]
        visits[2]["occurred_at"] = wed1_11.isoformat()  # zero-a3's later visit comes first
        visits += [
            {
                "external_id": "pv-small",
                "lead": "zero-small",
                "kind": "page_view",
                "occurred_at": local(week1 + timedelta(1), 10).isoformat(),
                "properties": {"url": "/pricing"},
            },
            {
                "external_id": "pv-blog",
                "lead": "zero-blog",
                "kind": "page_view",
                "occurred_at": local(week1 + timedelta(1), 10).isoformat(),
                "properties": {"url": "/blog/sla"},
            },
        ]
        batch = visits + visits[:3]  # three sent twice
        random.Random(16).shuffle(batch)
        first = crm.ok("POST", "activities/ingest/", batch)
        assert (first["created"], first["unchanged"], first["rejected"]) == (len(visits), 3, 0)
        earlier = crm.ok(
            "POST",
            "activities/ingest/",
            [
                {
                    "external_id": "pv-zero-a3-tue",
                    "lead": "zero-a3",
                    "kind": "page_view",
                    "occurred_at": facts["zero-a3"][0].isoformat(),
                    "properties": {"url": "/pricing"},
                }
            ],
        )
        assert earlier["created"] == 1

        # Routed at MQL time; the two that did not qualify have no owner.
        listed = admin.ok("GET", "leads/", params={"stage": "mql"})["results"]
        owners = {lead["external_id"]: lead["owner"]["email"] for lead in listed}
        assert set(owners) == set(facts)
        assert set(owners.values()) == {"riley@fromzero.test", "jordan@fromzero.test"}
        a3 = next(lead for lead in listed if lead["external_id"] == "zero-a3")
        assert datetime.fromisoformat(a3["mql_at"]) == facts["zero-a3"][0]  # re-dated

        # 8. Touches from the CRM (DESIGN's kind names), one sent twice; then dispositions.
        touches = [
            {
                "external_id": f"t-{key}",
                "lead": key,
                "kind": ("call", "email")[n % 2],
                "occurred_at": touched.isoformat(),
                "actor": owners[key],
            }
            for n, (key, (_, touched, _)) in enumerate(facts.items())
            if touched
        ]
        report = crm.ok("POST", "touches/bulk/", {"items": touches + touches[:1]})
        assert (report["created"], report["unchanged"], report["rejected"]) == (len(touches), 1, 0)
        items = [
            {
                "lead": key,
                "outcome": outcome,
                "reason_code": reason,
                "actor": owners[key],
                "external_id": f"d-{key}",
                "occurred_at": (touched + timedelta(hours=1)).isoformat(),
            }
            for key, (_, touched, decided) in facts.items()
            if decided
            for outcome, reason in [decided]
        ]
        assert crm.ok("POST", "dispositions/bulk/", {"items": items})["created"] == len(items)

        # 9. The scores. A closed period as of after the month; one week as of a moment in it.
        after = local(first_day, 0) + timedelta(days=40)
        week_1 = scores(admin, "week", week1, after)
        assert (
            week_1["first_contact_time"]["numerator"],
            week_1["first_contact_time"]["denominator"],
        ) == (4, 5)
        assert week_1["first_contact_time"]["status"] == "green"  # 80 % meets an 80 % target
        week_2 = scores(admin, "week", week2, after)
        assert (
            week_2["first_contact_time"]["numerator"],
            week_2["first_contact_time"]["denominator"],
        ) == (1, 4)
        assert week_2["first_contact_time"]["status"] == "red"
        # Tuesday 10:15: one MQL so far, its call (10:30) not made yet and not yet due: pending.
        early = scores(admin, "week", week1, local(week1 + timedelta(1), 10, 15))
        assert early["first_contact_time"]["pending"] == 1
        assert early["first_contact_time"]["denominator"] == 0
        assert early["first_contact_time"]["status"] == "grey"

        month = scores(admin, "month", first_day, after)
        assert month["mql_volume"]["numerator"] == 9 and month["mql_volume"]["status"] == "red"
        rate = month["mql_to_sql_rate"]
        assert (rate["numerator"], rate["denominator"]) == (2, 9)


def scores(api: Api, period: str, start: date, as_of: datetime) -> dict[str, dict]:
    """The period's scores by metric, for the commitments reviewed by that period."""
    body = api.ok(
        "GET",
        "compliance/",
        params={"period": period, "start": start.isoformat(), "as_of": as_of.isoformat()},
    )
    return {r["metric"]: r for r in body["results"] if r["review_period"] == period}
