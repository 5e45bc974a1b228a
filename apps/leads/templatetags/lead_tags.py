"""Small display helpers of the lead pages."""

from django import template

register = template.Library()

# Colour follows what the stage means for the SLA; the badge always carries the stage's name.
_STAGE_BADGE = {
    "mql": "yellow",
    "sql": "green",
    "opportunity": "green",
    "won": "green",
    "lost": "red",
    "disqualified": "red",
    "nurture": "grey",
    "lead": "grey",
}


@register.filter
def stage_badge(stage: str) -> str:
    """The badge colour class for a lifecycle stage."""
    return _STAGE_BADGE.get(stage, "grey")


@register.filter
def get_item(mapping, key):
    """mapping[key] in a template (None when absent)."""
    return mapping.get(key) if hasattr(mapping, "get") else None
