"""Every write service a leader or an admin can call leaves an audit event.

A guard, read from the source: each public function of ``apps/*/services.py`` that acts for
someone (an ``actor``, ``author``, ``approver``, ``invited_by``, ``created_by`` or
``principal`` argument; a ``user`` argument is a person's own preferences) must record an audit event itself, or go through one that does,
or be listed below with the reason it is not an organization change. A new service added
without either fails here, naming itself.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACTING = {"actor", "author", "approver", "invited_by", "created_by", "principal"}

# function -> why it is not in the audit log
NOT_AUDITED = {
    "dispositions.require_may_work_lead": "a check, writes nothing",
    "dispositions.touch_check": "a check, writes nothing (the touch is stored by the hand-off)",
    "dispositions.reason_code_move": "goes through reason_codes_reorder, which is audited",
    "leads.person_of": "a helper: the User behind an actor, writes nothing",
    "leads.touch_item": "builds a sales touch's activity item: in the lead's timeline",
    "leads.leads_store": "ingestion (API, webhooks, CSV rows): counted per batch, the import "
    "itself is audited",
    "leads.activities_store": "ingestion of facts, as leads_store",
    "leads.import_job_create": "an upload waiting for its mapping; starting it is audited",
    "mql.backtest_start": "a what-if computation; changes nothing in force",
    "sla.sla_notify": "sends notifications about an audited change",
    "sla.version_change_record": "writes through _log, which is audited",
}
# function -> the audited service it goes through
THROUGH = {
    "accounts.user_invite": "user_create",
}


def _acting_functions():
    # The services, and the leads' owners module (routing and reassignment by hand).
    paths = [*(ROOT / "apps").glob("*/services.py"), ROOT / "apps/leads/owners.py"]
    for path in sorted(paths):
        app = path.parent.name
        tree = ast.parse(path.read_text())
        source = path.read_text()
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            names = {a.arg for a in node.args.args + node.args.kwonlyargs}
            if names & ACTING:
                yield f"{app}.{node.name}", ast.get_source_segment(source, node)


def _records(body: str) -> bool:
    tree = ast.parse(body)
    called = {
        node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    return bool(called & {"audit_record", "_log"})


def test_every_acting_service_is_audited_or_says_why_not():
    missing = []
    for name, body in _acting_functions():
        if name in NOT_AUDITED:
            continue
        if name in THROUGH:
            assert THROUGH[name] in body, f"{name} no longer calls {THROUGH[name]}"
            continue
        if not _records(body):
            missing.append(name)
    assert not missing, (
        "these services act for someone but leave no audit event (record one with "
        f"apps.accounts.audit.audit_record, or explain in NOT_AUDITED): {missing}"
    )


def test_the_exemptions_still_exist():
    names = {name for name, _ in _acting_functions()}
    stale = sorted((set(NOT_AUDITED) | set(THROUGH)) - names)
    assert not stale, f"exempted services that no longer exist: {stale}"
