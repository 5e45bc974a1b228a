import re

from django import forms

from apps.icp.services import PERSONA_KEYS
from apps.leads.seniority import SENIORITY_CHOICES

_PERSONA_FIELD = re.compile(r"^personas\[(\d+)\]\.(\w+)$")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class IcpRevisionForm(forms.Form):
    """The ICP editor: firmographics, narrative lists (one per line) and persona cards."""

    employee_min = forms.IntegerField(label="Employees from", min_value=0, required=False)
    employee_max = forms.IntegerField(label="Employees to", min_value=0, required=False)
    revenue_min = forms.DecimalField(label="Annual revenue from", min_value=0, required=False)
    revenue_max = forms.DecimalField(label="Annual revenue to", min_value=0, required=False)
    industries = forms.CharField(
        required=False, help_text="Comma-separated, e.g. Software, Fintech"
    )
    regions = forms.CharField(
        required=False, help_text="Country codes or region names, comma-separated: US, GB, EMEA"
    )
    technologies = forms.CharField(required=False, help_text="Comma-separated, e.g. Snowflake, dbt")
    seniorities = forms.MultipleChoiceField(
        choices=[c for c in SENIORITY_CHOICES if c[0] != "unknown"],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    triggers = forms.CharField(
        label="Buying triggers",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="One per line: funding round, new VP Data hired…",
    )
    pains = forms.CharField(
        label="Pain points, in the customer's own words",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="One quote per line.",
    )
    watering_holes = forms.CharField(
        label="Watering holes",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Where they gather, one per line: communities, events, newsletters.",
    )
    summary = forms.CharField(label="What changed and why", max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.personas = self._personas_from_data()

    def _personas_from_data(self) -> list[dict[str, str]]:
        if not self.is_bound:
            return list(self.initial.get("personas", []))
        cards: dict[int, dict[str, str]] = {}
        for key, value in self.data.items():
            match = _PERSONA_FIELD.match(key)
            if match and match.group(2) in PERSONA_KEYS:
                cards.setdefault(int(match.group(1)), {})[match.group(2)] = value
        return [cards[i] for i in sorted(cards)]

    def revision_input(self) -> dict:
        """Keyword arguments for services.icp_revision_create from the cleaned data."""
        data = self.cleaned_data
        return {
            "criteria": {
                "employee_min": data.get("employee_min"),
                "employee_max": data.get("employee_max"),
                "revenue_min": data.get("revenue_min"),
                "revenue_max": data.get("revenue_max"),
                "industries": data.get("industries", ""),
                "regions": data.get("regions", ""),
                "technologies": data.get("technologies", ""),
                "seniorities": data.get("seniorities", []),
            },
            "triggers": _lines(data.get("triggers", "")),
            "pains": _lines(data.get("pains", "")),
            "watering_holes": _lines(data.get("watering_holes", "")),
            "personas": self.personas,
            "summary": data.get("summary", ""),
        }

    @classmethod
    def initial_from(cls, revision) -> dict:
        if revision is None:
            return {"personas": []}
        criteria = revision.criteria or {}
        return {
            **{
                key: criteria.get(key)
                for key in ("employee_min", "employee_max", "revenue_min", "revenue_max")
            },
            **{
                key: ", ".join(criteria.get(key, []))
                for key in ("industries", "regions", "technologies")
            },
            "seniorities": criteria.get("seniorities", []),
            "triggers": "\n".join(revision.triggers),
            "pains": "\n".join(revision.pains),
            "watering_holes": "\n".join(revision.watering_holes),
            "personas": list(revision.personas),
        }
