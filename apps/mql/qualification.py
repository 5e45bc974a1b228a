"""Who becomes an MQL, and when: the per-lead decision of the MQL engine, and re-dating.

Pure module: no ORM, no settings; `now` is passed in; frozen dataclasses in and out.
apps/mql/services.py loads and locks the leads, hands each one's state to
`lead_decide`, and writes what it decides; apps/handoff/pipeline.py moves the
stages, routes and opens or moves the clocks that follow.

The rules:
- Only leads in stage `lead` (never qualified before) or `nurture` are evaluated.
  Leads in mql/sql/opportunity/won/lost stay as they are: once an MQL, always an
  MQL, even as its score decays. `disqualified` leads never re-qualify: sales
  rejected them with a reason; bringing one back is a deliberate stage move.
- A lead in `nurture` qualifies again only on facts newer than its return to
  marketing: the activities it had before the return were already judged by
  sales, so only activities after the return count, and the new MQL event is
  dated no earlier than the first new fact (activity or field change), nor than
  the later of the return and `fields_changed_at`.
- `not_before` is also `fields_changed_at`: only the lead's current fields are
  known, so a qualification cannot be dated before they were true.
- The active MQL and the active PQL definition are both evaluated, in one pass
  over the same facts; the earlier qualification wins (MQL on a tie) and is the
  hand-off. A PQL event moves the lead to stage `mql` like an MQL does: for sales
  both are "a qualified lead to work".
- `mql_at` is the moment the stored facts, walked in time order, first met the
  definition; the same facts delivered in any order give the same moment.
- Re-dating: when a batch stores an activity not newer than the latest MQL event
  of a lead that is already an MQL (or further on), that event is walked again
  under its own definition version and the bounds it was first evaluated under;
  if the facts met the definition earlier, the event (and with it the lead's
  mql_at, the stage change into mql and the SLA clocks) moves to that moment —
  never later — and keeps the moment it moved from. At the same moment, only its
  score and explanation follow the late facts. Events before a return to nurture
  are closed history and never move.
- Cheap exclusion (`requirements`): a lead whose fields fail the fit conditions,
  or that has no activity of the kind (and properties) a behaviour condition
  needs, cannot qualify whatever the moment; the service skips those in SQL
  before any rule is replayed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.mql.rules import (
    ActivityFact,
    BehaviourCondition,
    ConditionGroup,
    Definition,
    Evaluation,
    FieldCondition,
    Qualification,
    first_qualification,
)
from apps.mql.scoring import ActivityMatch

# Stage values (apps.leads.models.Stage), spelled out: this module reads no models.
LEAD, MQL, NURTURE = "lead", "mql", "nurture"
QUALIFIABLE = frozenset({LEAD, NURTURE})
# Definition kinds in the order a tie is broken (apps.mql.models.DefinitionKind).
KINDS = ("mql", "pql")
# Keys of an event's explanation that record its re-dates (kept when it is re-evaluated).
REDATE_KEYS = ("redated_from", "redated_at", "redates")


@dataclass(frozen=True)
class DefinitionVersion:
    """One stored definition version as the engine uses it: who it is (for explanations) and its rules."""

    id: int
    kind: str
    version: int
    name: str
    rules: Definition


@dataclass(frozen=True)
class PastEvent:
    """One MQL event the lead already has."""

    id: int
    qualified_at: datetime
    definition_id: int
    explanation: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class MoveIntoMql:
    """A stage change of the lead into `mql` (the one an MQL event made, when it is)."""

    id: int
    from_stage: str
    occurred_at: datetime


@dataclass(frozen=True)
class LeadState:
    """Everything the decision reads about one lead, as stored when the batch locked it."""

    lead_id: int
    stage: str
    stage_changed_at: datetime
    fields_changed_at: datetime | None
    fields: Mapping[str, Any] = field(hash=False, compare=False)
    events: tuple[PastEvent, ...] = ()  # oldest first
    returns: tuple[datetime, ...] = ()  # returns to nurture, oldest first
    moves_into_mql: tuple[MoveIntoMql, ...] = ()  # oldest first
    activities: tuple[ActivityFact, ...] = ()  # of the kinds the definitions read, in time order
    # The earliest occurred_at among the activities this batch stored for the lead: a fact
    # not newer than its latest MQL event may move that event (None: nothing to re-date).
    earliest_new_activity: datetime | None = None
    # The kinds of definition the lead may meet (the SQL pre-filter of `requirements`
    # left out the others); None: every active one.
    kinds: frozenset[str] | None = None


@dataclass(frozen=True)
class NewMql:
    """The lead qualifies: a new MQL event under `definition` at `qualification.at`."""

    lead_id: int
    definition: DefinitionVersion
    qualification: Qualification


@dataclass(frozen=True)
class Redate:
    """The lead's latest MQL event, walked again: `qualification.at` is its moment now."""

    lead_id: int
    event_id: int
    definition: DefinitionVersion
    old_at: datetime
    # The stage change into mql the event made, which moves with it (None: none found).
    change_id: int | None
    qualification: Qualification

    @property
    def moved(self) -> bool:
        """Whether the event moves earlier (else only its score and explanation change)."""
        return self.qualification.at < self.old_at


# --- what the definitions read ------------------------------------------------------------


def _group_kinds(group: ConditionGroup) -> set[str]:
    kinds: set[str] = set()
    for item in group.conditions:
        if isinstance(item, ConditionGroup):
            kinds |= _group_kinds(item)
        elif isinstance(item, BehaviourCondition):
            kinds.add(item.activity.kind)
    return kinds


def signal_kinds(definitions: Iterable[Definition]) -> set[str]:
    """Activity kinds any of the definitions looks at: the only activities worth loading."""
    kinds: set[str] = set()
    for defn in definitions:
        kinds |= _group_kinds(defn.behaviour)
        kinds |= {
            rule.signal.kind
            for rule in defn.scoring.rules
            if not isinstance(rule.signal, FieldCondition)
        }
    return kinds


@dataclass(frozen=True)
class ActivityNeed:
    """At least one stored activity matching one of `matches` (a necessary condition)."""

    matches: tuple[ActivityMatch, ...]


@dataclass(frozen=True)
class NeedGroup:
    """All (or any) of the needs hold; an empty `all` always holds."""

    match: str  # all | any
    needs: tuple[ActivityNeed | NeedGroup, ...]


@dataclass(frozen=True)
class Requirements:
    """What a lead must have, whatever the moment, to meet a definition.

    `fit` is the definition's fit group (fields do not change over a walk, so a lead
    failing it never qualifies); `activities` is what its behaviour conditions need at
    the least, None when they can be met with no activity at all.
    """

    fit: ConditionGroup
    activities: NeedGroup | None


def _behaviour_need(item: ConditionGroup | BehaviourCondition) -> ActivityNeed | NeedGroup | None:
    """The activities without which `item` cannot be met (None: it can be met without any).

    With no activity at all every count is 0, at any moment: a condition (or group)
    met that way needs nothing; otherwise at least one of its leaves must count one.
    """
    if isinstance(item, BehaviourCondition):
        return ActivityNeed((item.activity,)) if item.min_count > 0 else None
    needs = [_behaviour_need(child) for child in item.conditions]
    if not needs:
        return None  # an empty group is met
    if item.match == "all":
        required = tuple(need for need in needs if need is not None)
        return NeedGroup("all", required) if required else None
    if any(need is None for need in needs):
        return None  # one alternative is met without activities
    return _any_of(needs)


def _any_of(needs: Sequence[ActivityNeed | NeedGroup | None]) -> ActivityNeed | NeedGroup:
    # Alternatives that are single needs fold into one: "one activity matching any of these".
    if all(isinstance(need, ActivityNeed) for need in needs):
        return ActivityNeed(tuple(m for need in needs for m in need.matches))  # type: ignore[union-attr]
    return NeedGroup("any", tuple(need for need in needs if need is not None))


def requirements(defn: Definition) -> Requirements:
    """The fit conditions and the least activities a lead needs to ever meet `defn`."""
    need = _behaviour_need(defn.behaviour)
    if isinstance(need, ActivityNeed):
        need = NeedGroup("all", (need,))
    return Requirements(fit=defn.fit, activities=need)


# --- explanations ---------------------------------------------------------------------------


def _flat(record: Any) -> dict[str, Any]:
    # dataclasses.asdict deep-copies every value; these frozen records hold primitives only,
    # and a batch of 1,000 new MQLs builds ~10,000 of them.
    return dict(vars(record))


def evaluation_as_dict(
    evaluation: Evaluation,
    *,
    definition: Any,
    at: datetime,
    trigger_activity_id: int | str | None = None,
) -> dict[str, Any]:
    """An evaluation as JSON (stored on MqlEvent.explanation, returned by the API).

    `definition` is anything with `id`, `kind`, `version` and `name` (a stored version
    or a DefinitionVersion).
    """
    return {
        "definition": {
            "id": definition.id,
            "kind": definition.kind,
            "version": definition.version,
            "name": definition.name,
        },
        "evaluated_at": at.isoformat(),
        "qualified": evaluation.qualified,
        "fit_met": evaluation.fit_met,
        "behaviour_met": evaluation.behaviour_met,
        "score": evaluation.score,
        "threshold": evaluation.threshold,
        "trigger_activity_id": trigger_activity_id,
        "conditions": [_flat(c) for c in evaluation.conditions],
        "score_lines": [_flat(line) for line in evaluation.score_lines],
        "reasons": list(evaluation.reasons),
    }


def qualification_explanation(qualification: Qualification, *, definition: Any) -> dict[str, Any]:
    """The explanation stored on a new MQL event."""
    return evaluation_as_dict(
        qualification.evaluation,
        definition=definition,
        at=qualification.at,
        trigger_activity_id=qualification.trigger_activity_id,
    )


def redated_explanation(
    redate: Redate, *, explanation: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The re-walked event's explanation: the fresh evaluation, and its history of moves.

    A move adds {"from", "to", "recorded_at"} to `redates` ("re-dated from <from> when
    an earlier fact arrived on <recorded_at>"); the same moment keeps the history.
    """
    kept = {k: v for k, v in (explanation or {}).items() if k in REDATE_KEYS}
    if redate.moved:
        move = {
            "from": redate.old_at.isoformat(),
            "to": redate.qualification.at.isoformat(),
            "recorded_at": now.isoformat(),
        }
        kept = {
            "redated_from": move["from"],
            "redated_at": move["recorded_at"],
            "redates": [*(kept.get("redates") or []), move],
        }
    return {**qualification_explanation(redate.qualification, definition=redate.definition), **kept}


def _evaluation_changed(
    explanation: Mapping[str, Any], walk: Qualification, definition: DefinitionVersion
) -> bool:
    """Whether the older facts change the evaluation at the event's own moment (the score
    at mql_at counts the points of the history that arrived late)."""
    stored = {k: v for k, v in (explanation or {}).items() if k not in REDATE_KEYS}
    fresh = qualification_explanation(walk, definition=definition)
    # Through JSON, as stored: tuples become lists.
    return json.loads(json.dumps(fresh)) != stored


# --- the decision -----------------------------------------------------------------------------


def nurture_not_before(
    returned_at: datetime,
    new_activities: Sequence[ActivityFact],
    fields_changed_at: datetime | None,
) -> datetime | None:
    """When a lead back in nurture may qualify again: not before its first new fact, nor
    before its return or its last field change; None when nothing happened since the return."""
    changed = fields_changed_at if fields_changed_at and fields_changed_at > returned_at else None
    moments = [a.occurred_at for a in new_activities] + ([changed] if changed else [])
    if not moments:
        return None
    return max(min(moments), changed or returned_at)


def is_walked_again(state: LeadState) -> bool:
    """Whether a settled lead (already an MQL or further on) got a fact not newer than its
    latest MQL event in this batch: only then can that event move or change."""
    return (
        state.stage not in QUALIFIABLE
        and state.earliest_new_activity is not None
        and bool(state.events)
        and state.earliest_new_activity <= state.events[-1].qualified_at
    )


def leads_decide(
    states: Iterable[LeadState],
    *,
    active: Mapping[str, DefinitionVersion],
    versions: Mapping[int, DefinitionVersion],
    now: datetime,
) -> list[NewMql | Redate]:
    """What the stored facts decide for each lead: a new MQL event or a re-date (leads
    for which nothing changes are left out), in the order of `states`.

    `active` maps a kind (mql, pql) to its published version; `versions` holds, by id,
    the versions of the events a re-date walks again (active ones or older).
    """
    active_kinds = signal_kinds(d.rules for d in active.values())
    decided: list[NewMql | Redate] = []
    for state in states:
        if state.stage in QUALIFIABLE:
            decision = _qualify(state, active=active, kinds=active_kinds, now=now)
        elif is_walked_again(state):
            decision = _redate(state, versions=versions, active_kinds=active_kinds, now=now)
        else:
            decision = None
        if decision is not None:
            decided.append(decision)
    return decided


def _qualify(
    state: LeadState,
    *,
    active: Mapping[str, DefinitionVersion],
    kinds: set[str],
    now: datetime,
) -> NewMql | None:
    if not active:
        return None
    activities = [a for a in state.activities if a.kind in kinds]
    last_at = max((e.qualified_at for e in state.events), default=None)
    if state.stage == NURTURE:
        returned_at = max(state.returns) if state.returns else state.stage_changed_at
        if last_at is not None and last_at >= returned_at:
            return None  # already qualified again since its return
        activities = [a for a in activities if a.occurred_at > returned_at]
        not_before = nurture_not_before(returned_at, activities, state.fields_changed_at)
        if not_before is None:
            return None  # nothing new since sales returned it
    else:
        if last_at is not None:
            return None  # qualified before: only a return to nurture reopens it
        not_before = state.fields_changed_at
    best: NewMql | None = None
    for kind in KINDS:
        definition = active.get(kind)
        if definition is None or (state.kinds is not None and kind not in state.kinds):
            continue
        found = first_qualification(
            definition.rules,
            fields=state.fields,
            activities=activities,
            not_before=not_before,
            now=now,
        )
        if found is not None and (best is None or found.at < best.qualification.at):
            best = NewMql(state.lead_id, definition, found)
    return best


def _latest_return_before(returns: Sequence[datetime], moment: datetime) -> datetime | None:
    earlier = [at for at in returns if at < moment]
    return max(earlier) if earlier else None


def _redate(
    state: LeadState,
    *,
    versions: Mapping[int, DefinitionVersion],
    active_kinds: set[str],
    now: datetime,
) -> Redate | None:
    """The latest MQL event walked again exactly as it was first evaluated.

    Only the latest event, and only while it is the lead's current qualification: a
    return to nurture after it closes it (sales judged that MQL; its clocks, dispositions
    and the return itself are history). It is walked under its own definition version,
    from the stage it qualified from (`lead`: not before the last field change;
    `nurture`: only facts after the return, not before the first of them), and never
    before the previous MQL event. Only an earlier moment moves it: a later one would
    mean facts were removed. At the same moment, it is returned too when the late facts
    change its evaluation there (they add points to the score at mql_at).
    """
    event = state.events[-1]
    old_at = event.qualified_at
    if any(at >= old_at for at in state.returns):
        return None  # returned to nurture after it: closed history
    definition = versions.get(event.definition_id)
    if definition is None:
        return None
    change = next(
        (c for c in reversed(state.moves_into_mql) if c.occurred_at == old_at),
        None,
    )
    returned_at = _latest_return_before(state.returns, old_at)
    if change is not None and change.from_stage in QUALIFIABLE:
        from_stage = change.from_stage
    else:
        from_stage = NURTURE if returned_at is not None else LEAD
    kinds = active_kinds | signal_kinds([definition.rules])
    activities = [a for a in state.activities if a.kind in kinds]
    not_before: datetime | None
    if from_stage == NURTURE and returned_at is not None:
        activities = [a for a in activities if a.occurred_at > returned_at]
        not_before = nurture_not_before(returned_at, activities, state.fields_changed_at)
        if not_before is None:
            return None
    else:
        not_before = state.fields_changed_at
    if len(state.events) > 1:
        previous_at = state.events[-2].qualified_at
        not_before = max(not_before, previous_at) if not_before else previous_at
    fields = {**state.fields, "stage": from_stage}  # the stage it qualified from
    walk = first_qualification(
        definition.rules, fields=fields, activities=activities, not_before=not_before, now=now
    )
    if walk is None or walk.at > old_at:
        return None
    if walk.at == old_at and not _evaluation_changed(event.explanation, walk, definition):
        return None
    return Redate(
        lead_id=state.lead_id,
        event_id=event.id,
        definition=definition,
        old_at=old_at,
        change_id=change.id if change is not None else None,
        qualification=walk,
    )
