"""A new organization starts with the reason codes of the domain articles."""

from apps.dispositions.models import Outcome, ReasonCode

# (label, outcome): rejected = never a buyer as things stand (sales closes it);
# nurture = a real prospect, just not now (marketing keeps warming it).
DEFAULT_REASON_CODES = (
    ("Not a decision-maker", Outcome.REJECTED),
    ("Budget doesn't match", Outcome.REJECTED),
    ("Chose a competitor", Outcome.REJECTED),
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
