"""The layering of apps/, read from the import statements (ast): every arrow points down.

    layer      modules                                              may import
    ─────────  ───────────────────────────────────────────────────  ──────────────────────
    entry      views, api, *_api, urls, tasks, admin, forms,        anything below
               panels, demo, navigation, management commands …
    hand-off   apps/handoff (channels → pipeline)                   domain, base
    domain     services, selectors, clocks, stages, snapshots …     domain, base
    base       models and pure modules (rules, qualification,       base only
               business_time, metrics, field_conditions …)

Besides: `leads` imports nothing from `mql`, `sla` or `compliance` (the hand-off layer joins
them); no import inside a function (a function-level import hides an arrow pointing back);
no import cycle between modules; and each hand-off entity has one write path.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from functools import cache
from pathlib import Path

APPS = Path(__file__).resolve().parents[1] / "apps"

# The last part of a module's name that makes it an entry point (plus management/, templatetags/
# and the API modules of one topic, `<topic>_api`).
ENTRY = frozenset(
    {
        "views",
        "api",
        "api_urls",
        "urls",
        "tasks",
        "admin",
        "apps",
        "demo",
        "forms",
        "panels",
        "panel_discovery",
        "navigation",
        "context_processors",
        "api_errors",
        "access",
        "authentication",
        "schema",
    }
)
# Models and pure modules: no query, no request, `now` passed in (and two plumbing modules).
BASE = frozenset(
    {
        "accounts.csv_export",
        "accounts.exceptions",
        "accounts.input_bounds",
        "accounts.roles",
        "accounts.tokens",
        "compliance.alert_text",
        "compliance.kind_metrics",
        "compliance.kinds",
        "compliance.metrics",
        "compliance.periods",
        "compliance.working_time",
        "dashboards.calculations",
        "dashboards.chart_points",
        "dashboards.charts",
        "dashboards.scope",
        "dashboards.slices",
        "dashboards.tiles",
        "dispositions.countdown",
        "icp.comparison",
        "icp.fit",
        "leads.crm_payloads",
        "leads.csv_rows",
        "leads.field_conditions",
        "leads.field_mapping",
        "leads.geography",
        "leads.payloads",
        "leads.routing",
        "leads.seniority",
        "leads.touch_kinds",
        "leads.webhook_signatures",
        "mql.backtest",
        "mql.qualification",
        "mql.rule_builder",
        "mql.rules",
        "mql.scoring",
        "sla.agreement_templates",
        "sla.business_time",
        "sla.clock_rules",
        "sla.segments",
        "sla.snapshots",
        "sla.wording",
        "tenants.exceptions",
        # Connection plumbing and settings readers that read no model.
        "tenants.addresses",
        "tenants.database_roles",
    }
)
# App → apps it must not import from (any module).
FORBIDDEN_APPS = {
    "leads": {"mql", "sla", "compliance", "dispositions", "dashboards"},
    "mql": {"sla", "compliance", "dispositions", "dashboards"},
    "sla": {"compliance", "dashboards"},
}
# Entity → the one module that writes it (ORM writes found in the code).
WRITE_PATHS = {
    "SlaClock": "sla.clocks",
    "StageChange": "leads.stages",
    "MqlEvent": "mql.services",
    "MqlEventFact": "compliance.facts",
}
WRITES = frozenset(
    {
        "create",
        "bulk_create",
        "update",
        "bulk_update",
        "delete",
        "get_or_create",
        "update_or_create",
    }
)
STAGE_FIELDS = frozenset(
    {"stage", "stage_changed_at", "mql_at", "sql_at", "opportunity_at", "closed_at"}
)


def _name(path: Path) -> str:
    return ".".join(path.relative_to(APPS).with_suffix("").parts)


@cache
def _modules() -> dict[str, ast.Module]:
    return {
        _name(path): ast.parse(path.read_text(), filename=str(path))
        for path in sorted(APPS.rglob("*.py"))
        if "migrations" not in path.parts and path.name != "__init__.py"
    }


def _layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "handoff":
        return "entry" if parts[-1] == "apps" else "handoff"
    entry = parts[-1] in ENTRY or parts[-1].endswith("_api")
    if entry or "management" in parts or "templatetags" in parts:
        return "entry"
    if module in BASE or parts[-1] == "models":
        return "base"
    return "domain"


ALLOWED = {
    "entry": {"entry", "handoff", "domain", "base"},
    "handoff": {"handoff", "domain", "base"},
    "domain": {"domain", "base"},
    "base": {"base"},
}


def _target(node: ast.ImportFrom | ast.Import) -> list[str]:
    """The apps modules an import statement names (without the `apps.` prefix)."""
    modules = _modules()
    found = []
    if isinstance(node, ast.ImportFrom):
        if not node.module or not node.module.startswith("apps."):
            return []
        base = node.module.removeprefix("apps.")
        for alias in node.names:
            found.append(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    else:
        found = [a.name.removeprefix("apps.") for a in node.names if a.name.startswith("apps.")]
    return [name for name in found if name in modules]


@cache
def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, tree in _modules().items():
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[module].update(t for t in _target(node) if t != module)
    return graph


def test_every_arrow_points_down():
    wrong = [
        f"{module} ({_layer(module)}) imports {target} ({_layer(target)})"
        for module, targets in _graph().items()
        for target in sorted(targets)
        if _layer(target) not in ALLOWED[_layer(module)]
    ]
    assert wrong == []


def test_leads_mql_and_sla_import_nothing_from_the_apps_above_them():
    wrong = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in sorted(targets)
        if target.split(".")[0] in FORBIDDEN_APPS.get(module.split(".")[0], ())
    ]
    assert wrong == []


def test_no_import_inside_a_function():
    found = [
        f"apps/{module.replace('.', '/')}.py:{node.lineno} in {function.name}()"
        for module, tree in _modules().items()
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert found == []


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(_modules()):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def _writes(tree: ast.Module):
    """(model, method, keyword names) of every `<Model>.objects….<write>(…)` call."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in WRITES:
            continue
        chain = node.func.value
        while isinstance(chain, ast.Call | ast.Attribute):
            if isinstance(chain, ast.Attribute) and chain.attr == "objects":
                if isinstance(chain.value, ast.Name):
                    yield chain.value.id, node.func.attr, {k.arg for k in node.keywords}
                break
            chain = chain.func if isinstance(chain, ast.Call) else chain.value


def test_each_hand_off_entity_has_one_write_path():
    wrong = [
        f"{module} writes {model} ({method})"
        for module, tree in _modules().items()
        for model, method, _ in _writes(tree)
        if model in WRITE_PATHS and WRITE_PATHS[model] != module
    ]
    wrong += [
        f"{module} writes lead stage fields ({method})"
        for module, tree in _modules().items()
        for model, method, keywords in _writes(tree)
        if model == "Lead" and module != "leads.stages" and keywords & STAGE_FIELDS
    ]
    assert wrong == []


def test_the_rule_tables_name_real_modules():
    modules = _modules()
    assert set(modules) >= BASE
    assert set(WRITE_PATHS.values()) <= set(modules)
