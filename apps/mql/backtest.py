"""Back-test arithmetic: replay definitions over stored lead histories and tally what they would do.

Pure module: no ORM; the caller streams leads in chunks (so memory stays flat for
large organizations) and stores `Tally.as_dict()`.

Semantics:
- A lead counts for a definition when its first qualification over its whole
  history falls inside the window [start, end]. A lead that would already have
  qualified before the window is not a new MQL of the window.
- Fields are the lead's current ones: the history of field values is not kept,
  so a back-test over a long window flatters fit conditions slightly.
- Outcomes are what really happened to the lead afterwards (sql_at set, stage
  won), whichever definition was in force: that is the point of the comparison.
- "Decisive" conditions are the ones that flipped at the qualifying moment: met
  at mql_at, not met an instant before (and "score reached the threshold" when
  the score was what crossed). Nothing flipping means fit alone decided.
- Weeks are Monday-to-Sunday UTC weeks, labelled by their Monday.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apps.mql.rules import ActivityFact, Definition, evaluate, first_qualification

_INSTANT = timedelta(microseconds=1)
SCORE_FLIP = "Score reached the threshold"
FIT_ALONE = "Fit conditions alone (no behaviour signal changed)"


@dataclass(frozen=True)
class LeadHistory:
    """What the back-test knows of one lead: fields, stored activities and its real outcome."""

    lead_id: int
    fields: Mapping[str, Any]
    activities: Sequence[ActivityFact]
    reached_sql: bool
    won: bool


@dataclass(frozen=True)
class Replay:
    """When a lead would have qualified under a definition, and what decided it."""

    at: datetime
    decisive: tuple[str, ...]


def decisive_conditions(
    defn: Definition,
    *,
    fields: Mapping[str, Any],
    activities: Sequence[ActivityFact],
    at: datetime,
) -> tuple[str, ...]:
    """Labels of what changed from "not qualified" to "qualified" at `at` (see module docstring)."""
    after = evaluate(defn, fields=fields, activities=activities, now=at)
    before = evaluate(defn, fields=fields, activities=activities, now=at - _INSTANT)
    was = {c.path: c.met for c in before.conditions}
    flipped = [c.label for c in after.conditions if c.met and not was.get(c.path, False)]
    threshold = defn.scoring.threshold
    if threshold is not None and before.score < threshold <= after.score:
        flipped.append(SCORE_FLIP)
    return tuple(flipped) or (FIT_ALONE,)


def replay(
    defn: Definition, *, history: LeadHistory, start: datetime, end: datetime
) -> Replay | None:
    """The lead's first qualification under `defn`, if it falls in [start, end]."""
    found = first_qualification(
        defn, fields=history.fields, activities=history.activities, not_before=None, now=end
    )
    if found is None or found.at < start:
        return None
    known = [a for a in history.activities if a.occurred_at <= found.at]
    return Replay(
        at=found.at,
        decisive=decisive_conditions(defn, fields=history.fields, activities=known, at=found.at),
    )


def week_of(moment: datetime) -> date:
    """Monday of the UTC week the moment falls in."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


@dataclass
class _Side:
    weeks: Counter[date] = field(default_factory=Counter)
    decisive: Counter[str] = field(default_factory=Counter)
    mqls: int = 0
    reached_sql: int = 0
    won: int = 0
    lead_ids: set[int] = field(default_factory=set)

    def add(self, history: LeadHistory, result: Replay) -> None:
        self.weeks[week_of(result.at)] += 1
        self.decisive.update(result.decisive)
        self.mqls += 1
        self.reached_sql += history.reached_sql
        self.won += history.won
        self.lead_ids.add(history.lead_id)

    def summary(self) -> dict[str, Any]:
        return {
            "mqls": self.mqls,
            "reached_sql": self.reached_sql,
            "won": self.won,
            "sql_rate": _rate(self.reached_sql, self.mqls),
            "win_rate": _rate(self.won, self.mqls),
            "decisive": [
                {"label": label, "count": count} for label, count in self.decisive.most_common(8)
            ],
        }


def _rate(part: int, whole: int) -> float | None:
    """0-1; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


class Tally:
    """Accumulates a draft and a baseline definition over lead histories, chunk after chunk."""

    def __init__(
        self,
        draft: Definition,
        baseline: Definition | None,
        *,
        start: datetime,
        end: datetime,
    ) -> None:
        self.draft = draft
        self.baseline = baseline
        self.start = start
        self.end = end
        self._draft = _Side()
        self._baseline = _Side()
        self.leads_replayed = 0

    def add(self, history: LeadHistory) -> None:
        self.leads_replayed += 1
        found = replay(self.draft, history=history, start=self.start, end=self.end)
        if found is not None:
            self._draft.add(history, found)
        if self.baseline is not None:
            found = replay(self.baseline, history=history, start=self.start, end=self.end)
            if found is not None:
                self._baseline.add(history, found)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready result: weekly series side by side, totals, overlap, decisive conditions."""
        weeks: list[date] = []
        week = week_of(self.start)
        while week <= week_of(self.end):
            weeks.append(week)
            week += timedelta(days=7)
        both = self._draft.lead_ids & self._baseline.lead_ids
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "leads_replayed": self.leads_replayed,
            "has_baseline": self.baseline is not None,
            "weeks": [
                {
                    "week": w.isoformat(),
                    "draft": self._draft.weeks.get(w, 0),
                    "baseline": self._baseline.weeks.get(w, 0),
                }
                for w in weeks
            ],
            "draft": self._draft.summary(),
            "baseline": self._baseline.summary() if self.baseline is not None else None,
            "overlap": {
                "both": len(both),
                "only_draft": len(self._draft.lead_ids - both),
                "only_baseline": len(self._baseline.lead_ids - both),
            },
        }
