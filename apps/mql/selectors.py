"""Reads of the MQL engine: definitions, the engine's view of leads, explanations, back-tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from apps.leads.models import Activity, Lead
from apps.mql.models import (
    BacktestRun,
    DefinitionComment,
    DefinitionStatus,
    MqlDefinition,
    MqlEvent,
)
from apps.mql.qualification import evaluation_as_dict, signal_kinds
from apps.mql.rules import (
    ActivityFact,
    Definition,
    DefinitionError,
    describe_definition,
    evaluate,
    lead_fields,
    parse_definition,
)


def activity_fact(activity: Activity) -> ActivityFact:
    return ActivityFact(
        id=activity.pk,
        kind=activity.kind,
        occurred_at=activity.occurred_at,
        properties=activity.properties or {},
    )


def activity_facts_by_lead(
    *, lead_ids: Iterable[int], kinds: Iterable[str] | None = None
) -> dict[int, list[ActivityFact]]:
    """Activity facts of many leads in one query, grouped by lead (time-ordered)."""
    qs = Activity.objects.filter(lead_id__in=list(lead_ids))
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    facts: dict[int, list[ActivityFact]] = {}
    for pk, lead_id, kind, occurred_at, properties in qs.order_by("occurred_at", "id").values_list(
        "id", "lead_id", "kind", "occurred_at", "properties"
    ):
        facts.setdefault(lead_id, []).append(
            ActivityFact(id=pk, kind=kind, occurred_at=occurred_at, properties=properties or {})
        )
    return facts


def definition_active_map() -> dict[str, MqlDefinition]:
    """The published definition of each kind (mql, pql), in one query."""
    return {
        d.kind: d
        for d in MqlDefinition.objects.filter(status=DefinitionStatus.PUBLISHED).select_related(
            "published_by"
        )
    }


def definition_parsed(definition: MqlDefinition) -> Definition | None:
    """The definition's rules parsed, or None when they are not valid (only drafts can be)."""
    try:
        return parse_definition(definition.rules)
    except DefinitionError:
        return None


def definition_list(*, kind: str | None = None) -> QuerySet[MqlDefinition]:
    qs = MqlDefinition.objects.select_related("created_by", "published_by")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("kind", "-version")


def lead_evaluation(
    *, lead: Lead, definition: MqlDefinition, now: datetime
) -> dict[str, Any] | None:
    """The lead against one definition at `now` (read-only; None when its rules are invalid)."""
    parsed = definition_parsed(definition)
    if parsed is None:
        return None
    facts = activity_facts_by_lead(lead_ids=[lead.pk], kinds=signal_kinds([parsed]))
    evaluation = evaluate(
        parsed, fields=lead_fields(lead), activities=facts.get(lead.pk, []), now=now
    )
    return evaluation_as_dict(evaluation, definition=definition, at=now)


def backtest_lead_scope(*, run: BacktestRun) -> QuerySet[Lead]:
    """Leads a back-test replays: those with a signal activity inside the window.

    A lead without one cannot newly qualify in the window (its candidates are its
    activity times), so skipping it changes no number and saves most of the work.
    """
    kinds = signal_kinds(
        d for d in (definition_parsed(run.definition), _baseline_parsed(run)) if d is not None
    )
    in_window = Activity.objects.filter(
        lead_id=OuterRef("pk"),
        kind__in=list(kinds),
        occurred_at__gt=run.window_start,
        occurred_at__lte=run.window_end,
    )
    return Lead.objects.filter(Exists(in_window))


def _baseline_parsed(run: BacktestRun) -> Definition | None:
    return definition_parsed(run.baseline) if run.baseline is not None else None


def backtest_lead_chunks(*, run: BacktestRun, size: int) -> Iterator[list[Lead]]:
    """The scope in primary-key order, `size` leads at a time (keyset pagination, flat memory)."""
    scope = backtest_lead_scope(run=run).order_by("pk")
    last = 0
    while True:
        chunk = list(scope.filter(pk__gt=last)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def definition_comment_list(*, definition: MqlDefinition) -> QuerySet[DefinitionComment]:
    return DefinitionComment.objects.filter(definition=definition).select_related("author")


def backtest_run_list(*, definition: MqlDefinition) -> QuerySet[BacktestRun]:
    return BacktestRun.objects.filter(definition=definition).select_related("created_by")


def backtest_presentation(*, run: BacktestRun) -> dict[str, Any]:
    """A finished run's result shaped for its page: the two sides and weekly bars (0-100 widths)."""
    result = run.result or {}
    weeks = result.get("weeks", [])
    peak = max([1, *(max(w["draft"], w["baseline"]) for w in weeks)])
    baseline_title = (
        f"Active version v{run.baseline.version}" if run.baseline is not None else "Active version"
    )
    draft = definition_parsed(run.definition)
    baseline = _baseline_parsed(run)
    return {
        "result": result,
        "sides": [
            (
                "draft",
                f"This version (v{run.definition.version})",
                result.get("draft"),
                describe_definition(draft) if draft else [],
            ),
            (
                "baseline",
                baseline_title,
                result.get("baseline"),
                describe_definition(baseline) if baseline else [],
            ),
        ],
        "weeks": [
            {
                **w,
                "week": date.fromisoformat(w["week"]),
                "draft_width": round(100 * w["draft"] / peak),
                "baseline_width": round(100 * w["baseline"] / peak),
            }
            for w in weeks
        ],
    }


def mql_event_history(*, lead: Lead) -> list[MqlEvent]:
    """Every MQL/PQL event of the lead, oldest first, with its definition version."""
    return list(
        MqlEvent.objects.filter(lead=lead)
        .select_related("definition", "trigger_activity")
        .order_by("qualified_at", "id")
    )


def mql_explanation(*, lead: Lead) -> dict | None:
    """ "Why is this an MQL?": the stored evaluation of the lead's latest MQL/PQL event, or None.

    The dict is the event's explanation (definition, conditions, score_lines,
    reasons, score, threshold) plus `qualified_at` and `kind`.
    """
    event = (
        MqlEvent.objects.filter(lead=lead)
        .select_related("definition")
        .order_by("-qualified_at", "-id")
        .first()
    )
    return _explanation_of(event) if event is not None else None


def _explanation_of(event: MqlEvent) -> dict:
    return {
        **event.explanation,
        "event_id": event.pk,
        "kind": event.kind,
        "qualified_at": event.qualified_at,
        "score": event.score,
        "trigger_activity_id": event.trigger_activity_id,
    }


def mql_explanations_for_leads(*, lead_ids: Iterable[int]) -> dict[int, dict]:
    """mql_explanation for many leads in one query (the rep queue's list view)."""
    latest: dict[int, MqlEvent] = {}
    for event in MqlEvent.objects.filter(lead_id__in=list(lead_ids)).order_by(
        "lead_id", "qualified_at", "id"
    ):
        latest[event.lead_id] = event
    return {lead_id: _explanation_of(event) for lead_id, event in latest.items()}
