"""Demo sales feedback for Acme Analytics: the reps' touches and dispositions on the demo MQLs.

Runs after the leads demo, through the hand-off channels (apps/handoff/channels.py):
touches through activities_ingest (back-dated, as a CRM sync would send them) and
dispositions through dispositions_bulk_create, each rep acting on their own leads, so
stages move and SLA clocks close exactly as in production.

The story it tells: most MQLs are called within the SLA's business hours, some late, a
few never; referrals and partners convert, while content syndication and competitor
paid search produce most rejections (the Pareto marketing should see); some leads go
back to nurture; the CRM's SQLs carry their "accepted". The newest MQLs of every rep
stay open with clocks running near now, so the queue is alive when someone logs in.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from apps.accounts.models import User
from apps.dispositions.models import Disposition, Outcome, ReasonCode
from apps.dispositions.services import DispositionItem
from apps.handoff.channels import activities_ingest, dispositions_bulk_create
from apps.leads.models import Lead, Stage
from apps.sla import business_time
from apps.sla.models import SlaVersion, VersionStatus
from apps.sla.selectors import calendar_for_version

# How each channel's MQLs end: weights of accepted, rejected, nurture, working, still open.
OUTCOME_WEIGHTS = {
    "content_syndication": (8, 62, 14, 6, 10),
    "paid_search": (24, 46, 14, 6, 10),
    "organic": (36, 22, 20, 10, 12),
    "webinar": (42, 16, 26, 6, 10),
    "events": (34, 14, 36, 6, 10),
    "referral": (66, 8, 10, 6, 10),
    "partner": (56, 14, 14, 6, 10),
}
DEFAULT_WEIGHTS = (35, 25, 20, 10, 10)
OUTCOMES = (Outcome.ACCEPTED, Outcome.REJECTED, Outcome.NURTURE, Outcome.WORKING, None)

REJECTION_REASONS = {
    "content_syndication": [
        ("Not a decision-maker", 50),
        ("Not a fit (company)", 25),
        ("Duplicate / bad data", 17),
        ("Budget doesn't match", 8),
    ],
    "paid_search": [
        ("Not a fit (company)", 32),
        ("Budget doesn't match", 28),
        ("Chose a competitor", 26),
        ("Duplicate / bad data", 14),
    ],
}
DEFAULT_REJECTION_REASONS = [
    ("Chose a competitor", 30),
    ("Budget doesn't match", 25),
    ("Not a decision-maker", 20),
    ("Not a fit (company)", 15),
    ("Duplicate / bad data", 10),
]
NOTES = {
    "Not a decision-maker": [
        "Student researching for a thesis, downloaded the ebook for class.",
        "Junior analyst, no say in tooling; the CFO owns this and is not engaged.",
        "Intern on the data team. Asked who decides: 'the board, maybe next year'.",
        "Individual contributor collecting vendor PDFs for a manager who is not looking.",
    ],
    "Not a fit (company)": [
        "Three-person agency, no data warehouse.",
        "Sole trader: needs a spreadsheet template, not a platform.",
        "Public-sector body with procurement rules we cannot meet.",
        "Company too small for the product: 8 employees.",
    ],
    "Duplicate / bad data": [
        "Fake name and a disposable email address.",
        "Duplicate of a lead already in an open opportunity.",
        "Phone number disconnected; email bounced.",
    ],
    "Budget doesn't match": [
        "Expected a free tool; our entry price is 10x their budget.",
        "Searching for 'free BI tool'; no budget at all this year.",
        "Budget frozen after a hiring freeze.",
    ],
    "Chose a competitor": [
        "Signed with a competitor two weeks ago; only comparing prices.",
        "Renewed with their current vendor for three years.",
        "Picked the competitor bundled with their CRM.",
    ],
    "Timeline too long": [
        "Interested, but the project starts after the next fiscal year.",
        "Evaluating in Q3 once the data migration is done; keep them warm.",
        "Budget opens in the spring; asked for content until then.",
    ],
    "Unresponsive after multiple touches": [
        "Six attempts over two weeks, no answer; back to marketing.",
        "Opened every email, never replied or picked up.",
        "Voicemails and LinkedIn messages unanswered.",
    ],
}
ACCEPTED_NOTES = [
    "Discovery call done: pain confirmed, budget owner in the next meeting.",
    "Real project this quarter; handing to the AE.",
    "Asked for a demo with the CFO next week.",
    "",
]
WORKING_NOTES = [
    "Left a voicemail, email sequence running.",
    "Spoke briefly, call back Thursday.",
    "",
]
TOUCH_KINDS = [("call", 45), ("email_sent", 35), ("social", 10), ("sms", 5), ("meeting", 5)]

# The newest MQLs of each rep stay open: at least this many, and all of the last days. A
# first look at the queue shows clocks still running (green), some running out (yellow) and
# the odd forgotten one (red) — not a wall of overdue rows.
LIVE_PER_REP = 1
LIVE_DAYS = 2
# MQLs older than this have all been settled (accepted, rejected or nurtured); the few days
# in between hold the leads still being worked, whose disposition is overdue.
SETTLED_AFTER_DAYS = 3
# The demo SLA's first-contact window, and the share of fresh MQLs whose window is over
# that nobody called (the queue's red rows).
FIRST_CONTACT_WINDOW = timedelta(hours=4)
LIVE_FORGOTTEN_SHARE = 0.15
# Share of reps who decide within a day of the first conversation (inside the 48-hour
# disposition SLA); the others decide after the whole cadence.
QUICK_DECISION_SHARE = 0.85
# Of the recent (not yet settled) MQLs whose decision would come later, the share still
# undecided now: their disposition is due or overdue.
STILL_UNDECIDED_SHARE = 0.3
# How fast the older MQLs were first called: on time (within the 4 business hours), late;
# the rest never. Around 85 % on time: "acts on leads promptly" sits near its 90 % target.
ON_TIME_SHARE = 0.85
LATE_SHARE = 0.1


def _pick(rng, weighted):
    items, weights = zip(*weighted, strict=True)
    return rng.choices(items, weights=weights, k=1)[0]


class _Calendars:
    """Business calendar of the SLA version in force at each MQL (plain UTC 9-5 if none);
    the signed versions are read once."""

    def __init__(self) -> None:
        self._versions = list(
            SlaVersion.objects.filter(
                status__in=[VersionStatus.ACTIVE, VersionStatus.SUPERSEDED],
                effective_at__isnull=False,
            ).order_by("-effective_at", "-id")
        )
        self._by_version: dict[int | None, business_time.BusinessCalendar] = {}

    def at(self, moment: datetime) -> business_time.BusinessCalendar:
        version = next(
            (
                v
                for v in self._versions
                if v.effective_at <= moment
                and (v.superseded_at is None or v.superseded_at > moment)
            ),
            None,
        )
        key = version.pk if version else None
        if key not in self._by_version:
            self._by_version[key] = (
                calendar_for_version(version) if version else business_time.standard_calendar()
            )
        return self._by_version[key]


def seed(*, now: datetime, rng) -> None:
    if Disposition.objects.exists():
        return
    # A label may be offered for both outcomes ("Timeline too long"): key by both.
    codes = {
        (code.outcome, code.label): code
        for code in ReasonCode.objects.filter(retired_at__isnull=True)
    }
    calendars = _Calendars()
    touches: list[dict] = []
    dispositions: dict[int, list[DispositionItem]] = defaultdict(list)

    open_mqls = list(
        Lead.objects.filter(stage=Stage.MQL, owner__isnull=False, mql_at__isnull=False)
        .select_related("owner")
        .order_by("-mql_at")
    )
    live: set[int] = set()
    seen_per_rep: dict[int, int] = defaultdict(int)
    for lead in open_mqls:
        seen_per_rep[lead.owner_id] += 1
        if seen_per_rep[lead.owner_id] <= LIVE_PER_REP or lead.mql_at > now - timedelta(
            days=LIVE_DAYS
        ):
            live.add(lead.pk)

    for lead in open_mqls:
        calendar = calendars.at(lead.mql_at)
        if lead.pk in live:
            _live_lead(lead, calendar=calendar, now=now, rng=rng, touches=touches)
        else:
            _worked_lead(
                lead,
                calendar=calendar,
                now=now,
                rng=rng,
                codes=codes,
                touches=touches,
                dispositions=dispositions,
            )

    # The CRM moved some MQLs on (SQL, opportunity, closed): sales accepted them first.
    for lead in Lead.objects.filter(
        sql_at__isnull=False, mql_at__isnull=False, owner__isnull=False
    ):
        if lead.sql_at >= lead.mql_at:
            dispositions[lead.owner_id].append(
                DispositionItem(
                    lead=lead,
                    outcome=Outcome.ACCEPTED,
                    note=rng.choice(ACCEPTED_NOTES),
                    occurred_at=lead.sql_at,
                    external_id=f"demo-accepted-{lead.external_id}",
                )
            )

    for start in range(0, len(touches), 1000):
        activities_ingest(items=touches[start : start + 1000], channel="system", actor=None)
    owners = User.objects.in_bulk(list(dispositions))
    for owner_id, items in dispositions.items():
        dispositions_bulk_create(items=items, principal=owners[owner_id], channel="web")


def _touch(lead: Lead, at: datetime, n: int, rng, kind: str | None = None) -> dict:
    return {
        "external_id": f"demo-touch-{lead.external_id}-{n}",
        "lead": lead.external_id,
        "kind": kind or _pick(rng, TOUCH_KINDS),
        "occurred_at": at,
        "actor": lead.owner.email,
    }


def _live_lead(lead: Lead, *, calendar, now: datetime, rng, touches: list[dict]) -> None:
    """A fresh MQL, no disposition yet. Its first call came on time once its first-contact
    window is over (bar the odd forgotten one, the queue's red row); while the window still
    runs the call is what the queue is for (green, or yellow near the end)."""
    due = business_time.add(calendar, lead.mql_at, FIRST_CONTACT_WINDOW)
    if due >= now or rng.random() < LIVE_FORGOTTEN_SHARE:
        return
    first = business_time.add(calendar, lead.mql_at, timedelta(hours=rng.uniform(0.2, 3.5)))
    if first < now - timedelta(minutes=5):
        touches.append(_touch(lead, first, 1, rng, kind="call"))


def _worked_lead(
    lead: Lead,
    *,
    calendar,
    now: datetime,
    rng,
    codes: dict[tuple[str, str], ReasonCode],
    touches: list[dict],
    dispositions: dict[int, list[DispositionItem]],
) -> None:
    """An older MQL: its touches (on time, late or never) and how sales settled it."""
    speed = rng.random()
    if speed < ON_TIME_SHARE:
        first_after = timedelta(hours=rng.uniform(0.1, 3.6))  # within a 4-hour SLA
    elif speed < ON_TIME_SHARE + LATE_SHARE:
        first_after = timedelta(hours=rng.uniform(5, 22))  # late
    else:
        first_after = None  # never called
    times: list[datetime] = []
    if first_after is not None:
        at = business_time.add(calendar, lead.mql_at, first_after)
        for _ in range(rng.choice([2, 3, 4, 5, 6, 6])):
            if at >= now:
                break
            times.append(at)
            at = business_time.add(calendar, at, timedelta(hours=rng.uniform(3, 14)))

    weights = OUTCOME_WEIGHTS.get(lead.source, DEFAULT_WEIGHTS)
    # Recent MQLs may still be in progress; older ones were all settled, if late.
    settled = lead.mql_at < now - timedelta(days=SETTLED_AFTER_DAYS)
    choices = list(zip(OUTCOMES, weights, strict=True))
    outcome = _pick(rng, choices[:3] if settled else choices)
    if not times:
        # Nobody reached them: either forgotten, or thrown out on sight (bad data, no fit).
        outcome = Outcome.REJECTED if settled or rng.random() < 0.45 else None

    label = None
    if outcome == Outcome.REJECTED:
        label = (
            _pick(rng, REJECTION_REASONS.get(lead.source, DEFAULT_REJECTION_REASONS))
            if times
            else rng.choice(["Duplicate / bad data", "Not a fit (company)"])
        )
    elif outcome == Outcome.NURTURE:
        unreachable = len(times) >= 4 and rng.random() < 0.6
        label = "Unresponsive after multiple touches" if unreachable else "Timeline too long"

    # Most reps decide within a day of the first conversation (inside a 48-hour disposition
    # SLA); the rest decide late, after the whole cadence. "Unresponsive" is late by nature.
    quick = label != "Unresponsive after multiple touches" and rng.random() < QUICK_DECISION_SHARE
    if outcome is not None and quick:
        start = times[0] if times else lead.mql_at
        occurred_at = business_time.add(calendar, start, timedelta(hours=rng.uniform(0.5, 7)))
        if outcome != Outcome.WORKING:
            times = [at for at in times if at < occurred_at]
    elif outcome is not None:
        start = times[-1] if times else lead.mql_at
        occurred_at = business_time.add(calendar, start, timedelta(hours=rng.uniform(2, 24)))
    if (
        outcome is not None
        and occurred_at >= now
        and (settled or rng.random() >= STILL_UNDECIDED_SHARE)
    ):
        # Decided already: between the touch it followed and now, not in the future.
        occurred_at = max(start, now - timedelta(hours=rng.uniform(1, 20)))
        times = [at for at in times if at < occurred_at]
    for n, at in enumerate(times, start=1):
        touches.append(_touch(lead, at, n, rng, kind="call" if n == 1 else None))
    if outcome is None or occurred_at >= now:
        return
    reason = codes.get((outcome, label)) if label else None
    if label and reason is None:
        return  # the organization retired that code: leave the lead open
    if label:
        note = rng.choice(NOTES[label])
    elif outcome == Outcome.ACCEPTED:
        note = rng.choice(ACCEPTED_NOTES)
    else:
        note = rng.choice(WORKING_NOTES)
    dispositions[lead.owner_id].append(
        DispositionItem(
            lead=lead,
            outcome=outcome,
            reason_code=reason,
            note=note,
            occurred_at=occurred_at,
            external_id=f"demo-disposition-{lead.external_id}",
        )
    )
