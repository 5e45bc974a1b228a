"""A new organization starts with the reason codes of the domain articles."""

from apps.dispositions.models import Outcome, ReasonCode

# (label, outcome), in DESIGN.md's order: all seven are reasons to reject (sales closes the
# lead). "Timeline too long" and "Unresponsive after multiple touches" are also reasons to
# return a lead to nurture (a real prospect, just not now: marketing keeps warming it); which
# one applies is sales' call, so both outcomes offer them. Seeding them as nurture reasons only
# made a rejection "because the timeline is too long" impossible until someone added it.
DEFAULT_REASON_CODES = (
    ("Not a decision-maker", Outcome.REJECTED),
    ("Budget doesn't match", Outcome.REJECTED),
    ("Timeline too long", Outcome.REJECTED),
    ("Chose a competitor", Outcome.REJECTED),
    ("Unresponsive after multiple touches", Outcome.REJECTED),
    ("Not a fit (company)", Outcome.REJECTED),
    ("Duplicate / bad data", Outcome.REJECTED),
    ("Timeline too long", Outcome.NURTURE),
    ("Unresponsive after multiple touches", Outcome.NURTURE),
)


def provision() -> None:
    """Seed the reason-code picklist once (a re-run adds only what is missing)."""
    existing = set(ReasonCode.objects.values_list("outcome", "label"))
    positions: dict[str, int] = {}
    missing = []
    for label, outcome in DEFAULT_REASON_CODES:
        position = positions.get(outcome, 0)
        positions[outcome] = position + 1
        if (outcome.value, label) not in existing:
            missing.append(ReasonCode(label=label, outcome=outcome, position=position))
    ReasonCode.objects.bulk_create(missing)
