"""Organizations spread over a Citus cluster: the same month gives the same numbers as on one
server, an organization moves to another worker while its leads keep arriving, and tenants stay
isolated. The product runs unchanged, through its management commands, services and API.
"""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.citus.conftest import (
    ADMIN_EMAIL,
    Server,
    schema_nodes,
    worker_ports,
)
from tests.support.processes import ROOT, python_argv

pytestmark = pytest.mark.citus

ORGANIZATIONS = {"north": 1, "south": 2, "east": 3}  # subdomain: seed of its month
LEADS_PER_MONTH = 80


def provision(server: Server, now) -> dict[str, dict]:
    """Migrate, create the organizations, and run each one's month; the month reports."""
    server.manage("migrate_schemas", "--noinput", "-v", "0")
    reports = {}
    for subdomain, seed in ORGANIZATIONS.items():
        server.manage(
            "create_organization",
            f"--name={subdomain.title()} Corp",
            f"--subdomain={subdomain}",
            f"--admin-email={ADMIN_EMAIL}",
        )
        reports[subdomain] = server.scenario(
            "month",
            f"--subdomain={subdomain}",
            f"--seed={seed}",
            f"--now={now.isoformat()}",
            f"--leads={LEADS_PER_MONTH}",
        )
    return reports


@pytest.fixture(scope="module")
def months(citus_server, single_server, session_now):
    """The same three organizations and months on the cluster and on a single server."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        on_citus = pool.submit(provision, citus_server, session_now)
        on_single = pool.submit(provision, single_server, session_now)
        return {"citus": on_citus.result(), "single": on_single.result()}


def test_organizations_are_distributed_schemas_spread_over_both_workers(citus_server, months):
    nodes = schema_nodes(citus_server)
    workers = worker_ports(citus_server)

    assert len(workers) == 2
    assert set(ORGANIZATIONS) <= set(nodes)
    for subdomain in ORGANIZATIONS:
        # Every table of an organization lives on one worker, so its joins stay on that node.
        assert len(nodes[subdomain]) == 1, nodes[subdomain]
    used = set().union(*(nodes[subdomain] for subdomain in ORGANIZATIONS))
    assert used == set(workers)
    # The public schema (organizations, domains) stays on the coordinator.
    assert "public" not in nodes


def test_a_month_on_the_cluster_gives_the_single_servers_numbers(months):
    for subdomain in ORGANIZATIONS:
        on_citus, on_single = months["citus"][subdomain], months["single"][subdomain]

        assert on_citus["sent"] == on_single["sent"]
        assert on_citus["counts"] == on_single["counts"]
        assert on_citus["compliance"] == on_single["compliance"]
        assert on_citus["dashboards"] == on_single["dashboards"]
        # A real month, not an empty one: MQLs, clocks met and breached, breach alerts.
        counts = on_citus["counts"]
        assert counts["leads"] == LEADS_PER_MONTH
        assert counts["mql_events"] > LEADS_PER_MONTH // 2
        assert counts["clocks"].get("met", 0) > 0
        assert counts["clocks"].get("breached", 0) > 0
        assert counts["alerts"].get("breach", 0) > 0
        results = [row for month in on_citus["compliance"].values() for row in month["results"]]
        assert any(row["denominator"] for row in results)
        charts = on_citus["dashboards"]
        assert charts["scorecard_status"] == 200
        assert charts["scorecard_tiles"] > 0
        # This quarter's charts (the month of traffic may lie in the last one): they answer, and
        # their points are the single server's (compared above).
        assert {charts[name]["status"] for name in ("funnel", "rejections", "speed-to-lead")} == {
            200
        }


def test_an_organization_moves_to_the_other_worker_while_its_leads_arrive(
    citus_server, months, session_now, tmp_path
):
    subdomain = "north"
    before = citus_server.scenario(
        "report", f"--subdomain={subdomain}", f"--now={session_now.isoformat()}"
    )
    (source,) = schema_nodes(citus_server)[subdomain]
    (target,) = set(worker_ports(citus_server)) - {source}
    stop_file = tmp_path / "stop"
    stream = subprocess.Popen(
        python_argv(
            "-m",
            "tests.citus.scenario",
            "stream",
            f"--subdomain={subdomain}",
            f"--now={session_now.isoformat()}",
            f"--stop-file={stop_file}",
            "--min-batches=3",
        ),
        cwd=ROOT,
        env=citus_server.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)  # the stream is under way when the move starts
        assert stream.poll() is None, stream.stderr.read() if stream.stderr else ""
        started = time.monotonic()
        citus_server.sql(
            "SELECT citus_schema_move(%s::regnamespace, '127.0.0.1', %s)", (subdomain, target)
        )
        move_seconds = time.monotonic() - started
    finally:
        stop_file.touch()
        out, err = stream.communicate(timeout=300)
    assert stream.returncode == 0, err[-4000:]
    streamed = json.loads(out.strip().splitlines()[-1])

    after = citus_server.scenario(
        "report", f"--subdomain={subdomain}", f"--now={session_now.isoformat()}"
    )
    assert schema_nodes(citus_server)[subdomain] == {target}
    assert streamed["batches"] >= 3
    # Nothing lost: the month and every streamed lead and activity are there, once.
    assert after["counts"]["leads"] == before["counts"]["leads"] + streamed["leads"]
    assert after["counts"]["activities"] == before["counts"]["activities"] + streamed["activities"]
    assert set(before["counts"]["lead_ids"]) <= set(after["counts"]["lead_ids"])
    # The closed months read the same after the move.
    for month, report in before["compliance"].items():
        if month != max(before["compliance"]):
            assert after["compliance"][month] == report
    print(f"citus_schema_move of {subdomain}: {move_seconds:.1f} s, {streamed}")


def test_tenants_stay_isolated_on_the_cluster(citus_server, months):
    for subdomain in ORGANIZATIONS:
        others = [other for other in ORGANIZATIONS if other != subdomain]
        probe = citus_server.scenario("probe", f"--subdomain={subdomain}", f"--other={others[0]}")
        assert probe["own_key_status"] == 200
        assert probe["foreign_key_status"] in {401, 403}
        # The same external id in every organization: each sees only its own lead.
        assert probe["shared_lead_emails"] == [f"shared@{subdomain}.example"]

    ids = {
        subdomain: set(
            citus_server.scenario("report", f"--subdomain={subdomain}", "--counts-only")["counts"][
                "lead_ids"
            ]
        )
        for subdomain in ORGANIZATIONS
    }
    for subdomain, seed in ORGANIZATIONS.items():
        own = {lead for lead in ids[subdomain] if lead.startswith((f"S{seed}-", "shared-"))}
        streamed = {lead for lead in ids[subdomain] if lead.startswith("stream-")}
        assert len(own) == LEADS_PER_MONTH + 1
        assert own | streamed == ids[subdomain]
        assert not streamed or subdomain == "north"


@pytest.mark.parametrize("target", ["citus", "single"])
def test_the_app_role_meets_the_evidence_triggers_and_its_limits(target, request, months):
    server = request.getfixturevalue(f"{target}_server")
    if server.owner_url == server.url:
        pytest.skip("the single server runs with one role here (no DATABASE_OWNER_URL)")
    schema = "south"  # the statements below name it

    def refused(query: str, error: type[Exception], message: str, *, as_role: str = "app"):
        with pytest.raises(error, match=message):
            server.sql(query, as_role=as_role)

    def count(table: str) -> int:
        return server.sql(f"SELECT count(*) FROM {schema}.{table}", as_role="app")[0][0]  # noqa: S608 - constants

    before = {table: count(table) for table in ("accounts_auditevent", "sla_signature")}
    # The month made a signed SLA and an audit trail; the app role reads them.
    assert before["accounts_auditevent"] > 0
    assert before["sla_signature"] > 0

    raised = psycopg.errors.RaiseException
    # On the cluster the row triggers fire on the worker, on the shard (hence the suffix).
    refused(
        "UPDATE south.accounts_auditevent SET action = action",
        raised,
        r"accounts_auditevent(_\d+)? is append-only: UPDATE refused",
    )
    refused(
        "DELETE FROM south.accounts_auditevent",
        raised,
        r"accounts_auditevent(_\d+)? is append-only: DELETE refused",
    )
    refused(
        "DELETE FROM south.sla_signature",
        raised,
        r"Signatures are append-only: DELETE on sla_signature(_\d+)? refused",
    )
    # This guard reads the schema's sla_slaversion from inside the trigger (on the worker).
    refused(
        "UPDATE south.sla_commitment SET version_id = version_id",
        raised,
        r"SLA version \d+ is signed: its sla_commitment(_\d+)? cannot be changed",
    )
    denied = psycopg.errors.InsufficientPrivilege
    refused("TRUNCATE south.accounts_auditevent", denied, "permission denied")
    refused("ALTER TABLE south.sla_signature DISABLE TRIGGER USER", denied, "must be owner")
    refused("SET session_replication_role = replica", denied, "session_replication_role")
    # The owner may TRUNCATE, but the statement trigger refuses it.
    for table in before:
        refused(
            f"TRUNCATE {schema}.{table}",
            raised,
            f"{table}(_\\d+)? keeps evidence: TRUNCATE refused",
            as_role="owner",
        )
    assert {table: count(table) for table in before} == before


def test_the_worker_shards_carry_the_app_roles_grants_and_the_always_enabled_triggers(
    citus_server, months
):
    schema = "south"
    (port,) = schema_nodes(citus_server)[schema]
    rows = citus_server.node_sql(
        port,
        "SELECT regexp_replace(c.relname, '_[0-9]+$', ''), c.relacl::text, "
        "coalesce(array_agg(t.tgname || ':' || t.tgenabled::text ORDER BY t.tgname) "
        "FILTER (WHERE t.oid IS NOT NULL), '{}') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal "
        "WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname ~ %s GROUP BY c.relname, c.relacl::text",
        (schema, r"^(accounts_auditevent|sla_signature|leads_lead)_[0-9]+$"),
    )
    shards = {table: (acl, triggers) for table, acl, triggers in rows}

    assert set(shards) == {"accounts_auditevent", "sla_signature", "leads_lead"}
    for acl, _triggers in shards.values():
        # Data privileges only: no TRUNCATE (D), REFERENCES (x) or TRIGGER (t).
        assert "handoff_app=arwd/handoff_owner" in acl
    assert [name.rsplit(":", 1)[1] for name in shards["sla_signature"][1]] == ["A", "A"]
    assert shards["accounts_auditevent"][1][0].startswith("accounts_auditevent_append_only")
    assert shards["accounts_auditevent"][1][0].endswith(":A")
    assert shards["leads_lead"][1] == []
