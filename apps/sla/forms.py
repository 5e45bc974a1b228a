"""Browser forms of the SLA app: they parse what people type; the services decide what is valid."""

from __future__ import annotations

import json
import re
import zoneinfo
from datetime import date
from functools import cache

import holidays
from django import forms
from holidays.registry import COUNTRIES

from apps.mql.models import DefinitionKind, MqlDefinition
from apps.sla.agreement_templates import TEMPLATES
from apps.sla.models import BusinessCalendar, Metric, ReviewPeriod, Team
from apps.sla.snapshots import DAY_NAMES
from apps.sla.wording import RATE_METRICS

_INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–—]\s*(\d{1,2}:\d{2})\s*$")


@cache
def timezone_choices() -> list[tuple[str, str]]:
    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")
    return [(z, z.replace("_", " ")) for z in zones]


@cache
def country_choices() -> list[tuple[str, str]]:
    """Countries the holidays package knows, by name (module names read "united_kingdom")."""
    supported = holidays.list_supported_countries()
    named = {
        entry[1]: module.replace("_", " ").title()
        for module, entry in COUNTRIES.items()
        if len(entry) > 1 and entry[1] in supported
    }
    return [
        ("", "No public holidays"),
        *sorted(((code, f"{name} ({code})") for code, name in named.items()), key=lambda c: c[1]),
    ]


def parse_day(text: str, day: str) -> list[list[str]]:
    """ "09:00-12:30, 13:30-17:00" → [["09:00", "12:30"], ["13:30", "17:00"]]; "" or "closed" → []."""
    value = (text or "").strip().lower()
    if value in ("", "closed", "-", "—"):
        return []
    intervals = []
    for part in value.split(","):
        match = _INTERVAL.match(part)
        if not match:
            raise forms.ValidationError(
                f"{day}: write intervals as 09:00-17:00, separated by commas (got “{part.strip()}”)."
            )
        start, end = (piece.zfill(5) for piece in match.groups())
        intervals.append([start, end])
    return intervals


def format_day(intervals) -> str:
    return ", ".join(f"{start}-{end}" for start, end in intervals or []) or "closed"


class CalendarForm(forms.Form):
    name = forms.CharField(max_length=120)
    timezone = forms.ChoiceField(choices=timezone_choices, initial="UTC")
    holiday_country = forms.ChoiceField(
        choices=country_choices, required=False, label="Public holidays of"
    )
    holiday_subdivision = forms.CharField(
        max_length=10,
        required=False,
        label="Region",
        help_text="Optional subdivision code, e.g. ENG for England, CA for California, NSW.",
    )
    closed_dates = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "2026-12-24\n2026-12-31"}),
        label="Company days off",
        help_text="One date per line (YYYY-MM-DD).",
    )
    is_default = forms.BooleanField(required=False, label="Default calendar for new SLA drafts")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for index, name in enumerate(DAY_NAMES):
            self.fields[f"day_{index}"] = forms.CharField(
                required=False,
                label=name,
                help_text="e.g. 09:00-12:30, 13:30-17:00 (split shift) or “closed”",
            )

    @classmethod
    def initial_for(cls, calendar: BusinessCalendar) -> dict:
        initial = {
            "name": calendar.name,
            "timezone": calendar.timezone,
            "holiday_country": calendar.holiday_country,
            "holiday_subdivision": calendar.holiday_subdivision,
            "closed_dates": "\n".join(calendar.closed_dates or []),
            "is_default": calendar.is_default,
        }
        for index, day in enumerate(calendar.week or []):
            initial[f"day_{index}"] = format_day(day)
        return initial

    @property
    def day_fields(self):
        return [self[f"day_{index}"] for index in range(7)]

    def clean(self):
        data = super().clean()
        week = []
        for index, name in enumerate(DAY_NAMES):
            try:
                week.append(parse_day(data.get(f"day_{index}", ""), name))
            except forms.ValidationError as error:
                self.add_error(f"day_{index}", error)
        data["week"] = week
        closed = []
        for line in (data.get("closed_dates") or "").split():
            try:
                closed.append(date.fromisoformat(line.strip()).isoformat())
            except ValueError:
                self.add_error("closed_dates", f"“{line}” is not a date as YYYY-MM-DD.")
        data["closed_list"] = closed
        return data


class CalendarPreviewForm(CalendarForm):
    """The calendar form plus a sample arrival and SLA, for the live "is due at" preview."""

    arrival = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="A lead arriving at",
    )
    hours = forms.FloatField(required=False, min_value=0.25, max_value=2000, initial=4)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False


class VersionForm(forms.Form):
    purpose = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One paragraph: why the two teams agree to this.",
    )
    calendar = forms.ModelChoiceField(
        queryset=BusinessCalendar.objects.order_by("-is_default", "name"),
        empty_label=None,
        label="Business calendar",
    )
    mql_definition = forms.ModelChoiceField(
        queryset=MqlDefinition.objects.filter(kind=DefinitionKind.MQL).order_by("-version"),
        required=False,
        label="MQL definition",
    )
    effective_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="Effective from",
        help_text="May lie in the past, so imported history is measured against this agreement.",
    )
    review_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: 30 days after it goes live.",
    )


class CommitmentForm(forms.Form):
    owner_team = forms.ChoiceField(choices=Team.choices, label="Owner")
    metric = forms.ChoiceField(choices=Metric.choices)
    hours = forms.FloatField(required=False, help_text="For first contact and disposition")
    clock = forms.ChoiceField(
        choices=[("business", "business hours"), ("calendar", "calendar hours")],
        required=False,
        initial="business",
    )
    touches = forms.IntegerField(required=False, help_text="For follow-up cadence")
    days = forms.IntegerField(required=False)
    revenue_target = forms.FloatField(required=False, help_text="For pipeline coverage")
    target = forms.FloatField(help_text="Rates in percent (90), volume as a count, coverage as ×")
    yellow_threshold = forms.FloatField(label="Yellow from")
    review_period = forms.ChoiceField(choices=ReviewPeriod.choices, initial=ReviewPeriod.WEEK)
    segment = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "placeholder": '[{"field": "source", "op": "in", "value": ["webinar"]}]',
            }
        ),
        help_text="Optional: only leads meeting these conditions (JSON list).",
    )
    label = forms.CharField(max_length=200, required=False)

    @classmethod
    def initial_for(cls, commitment) -> dict:
        params = commitment.params or {}
        scale = 100 if commitment.metric in RATE_METRICS else 1
        return {
            "owner_team": commitment.owner_team,
            "metric": commitment.metric,
            "hours": params.get("hours"),
            "clock": params.get("clock", "business"),
            "touches": params.get("touches"),
            "days": params.get("days"),
            "revenue_target": params.get("revenue_target"),
            "target": round(commitment.target * scale, 4),
            "yellow_threshold": round(commitment.yellow_threshold * scale, 4),
            "review_period": commitment.review_period,
            "segment": json.dumps(commitment.segment) if commitment.segment else "",
            "label": commitment.label,
        }

    def clean_segment(self):
        text = (self.cleaned_data.get("segment") or "").strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"Not valid JSON: {error.msg}.") from error
        if not isinstance(value, list):
            raise forms.ValidationError("Write a JSON list of conditions.")
        return value

    def service_values(self) -> dict:
        """The cleaned form as commitment_add/commitment_update arguments."""
        data = self.cleaned_data
        metric = data["metric"]
        scale = 100 if metric in RATE_METRICS else 1
        if metric in (Metric.FIRST_CONTACT_TIME, Metric.DISPOSITION_TIME):
            params = {"hours": data.get("hours"), "clock": data.get("clock") or "business"}
        elif metric == Metric.FOLLOW_UP_CADENCE:
            params = {"touches": data.get("touches"), "days": data.get("days")}
        elif metric == Metric.PIPELINE_COVERAGE:
            params = {"revenue_target": data.get("revenue_target")}
        else:
            params = {}
        return {
            "owner_team": data["owner_team"],
            "metric": metric,
            "params": params,
            "target": data["target"] / scale,
            "yellow_threshold": data["yellow_threshold"] / scale,
            "review_period": data["review_period"],
            "segment": data.get("segment") or [],
            "label": data.get("label") or "",
        }


class EscalationForm(forms.Form):
    commitment = forms.TypedChoiceField(coerce=int, choices=())
    threshold = forms.FloatField(help_text="Rates in percent (80)")
    periods = forms.IntegerField(min_value=1, max_value=52, initial=2)
    period_kind = forms.ChoiceField(choices=ReviewPeriod.choices, initial=ReviewPeriod.WEEK)
    notify_role = forms.ChoiceField(
        choices=[
            ("executive", "Executive"),
            ("marketing_leader", "Marketing leader"),
            ("sales_leader", "Sales leader"),
            ("admin", "Admins"),
        ],
        initial="executive",
    )

    def __init__(self, *args, commitments=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.commitments = {c.pk: c for c in commitments}
        self.fields["commitment"].choices = [(c.pk, str(c)) for c in commitments]


class SignForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        label="Your password",
        help_text="Re-enter your password to sign.",
    )
    content_hash = forms.CharField(widget=forms.HiddenInput, required=False)


class NewVersionForm(forms.Form):
    template = forms.ChoiceField(
        choices=[("", "Blank")] + [(key, t.name) for key, t in TEMPLATES.items()], required=False
    )
    from_version = forms.IntegerField(required=False)
