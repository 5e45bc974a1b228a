"""Browser forms of the SLA app: they parse what people type; the services decide what is valid."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from functools import cache

import holidays
from django import forms
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from holidays.registry import COUNTRIES

from apps.accounts.local_time import LocalDateTimeField
from apps.mql.models import DefinitionKind, MqlDefinition
from apps.mql.rule_builder import FIELD_OP_LABELS, condition_value, value_text
from apps.mql.rules import FIELD_LABELS, FIELD_OPS
from apps.sla.agreement_templates import TEMPLATES
from apps.sla.models import BusinessCalendar, Metric, ReviewPeriod, Team
from apps.sla.segments import SegmentError, parse_segment
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
    effective_at = LocalDateTimeField(
        label="Effective from",
        help_text="May lie in the past, so imported history is measured against this agreement.",
    )
    review_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Empty: 30 days after it goes live. Not before the effective date.",
    )

    def clean(self):
        data = super().clean()
        effective, review = data.get("effective_at"), data.get("review_date")
        if effective is not None and review is not None and review < timezone.localdate(effective):
            self.add_error(
                "review_date",
                f"The review date comes before the effective date "
                f"({timezone.localdate(effective):%d %b %Y}): choose a later day.",
            )
        return data


SEGMENT_MAX_CONDITIONS = 8
_FIELD_CHOICES = sorted(FIELD_LABELS.items(), key=lambda item: item[1])
_OP_CHOICES = [(op, label) for op, label in FIELD_OP_LABELS.items() if op in FIELD_OPS]


def _options(choices, selected: str) -> SafeString:
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (value, mark_safe(" selected") if value == selected else "", label)
            for value, label in choices
        ),
    )


class SegmentWidget(forms.Widget):
    """The segment as rows of "field · operator · value", like the MQL rule builder's fit
    conditions (all must hold), instead of a JSON textarea. One blank row is always offered;
    "+ condition" adds rows (static/js/layout.js), ✕ removes one."""

    def value_from_datadict(self, data, files, name) -> list[dict]:
        rows = []
        for index in range(SEGMENT_MAX_CONDITIONS):
            field = (data.get(f"{name}-{index}-field") or "").strip()
            if not field:
                continue  # an untouched blank row, or one the person removed
            rows.append(
                {
                    "field": field,
                    "op": (data.get(f"{name}-{index}-op") or "").strip(),
                    "text": data.get(f"{name}-{index}-value") or "",
                }
            )
        return rows

    def _row(self, name: str, index, condition: dict) -> SafeString:
        field = condition.get("field", "")
        op = condition.get("op", "equals")
        text = condition["text"] if "text" in condition else value_text(condition.get("value"))
        prefix = f"{name}-{index}"
        return format_html(
            '<div class="segment-row" data-repeat-row>'
            '<select name="{}-field" aria-label="Field"><option value="">— any lead —</option>{}</select>'
            '<select name="{}-op" aria-label="Operator">{}</select>'
            '<input type="text" name="{}-value" value="{}" aria-label="Value" placeholder="value (lists: a, b)">'
            '<button type="button" class="btn small secondary" data-repeat-remove aria-label="Remove this condition">✕</button>'
            "</div>",
            prefix,
            _options(_FIELD_CHOICES, field),
            prefix,
            _options(_OP_CHOICES, op),
            prefix,
            text,
        )

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        conditions = [c for c in (value or []) if isinstance(c, dict)]
        rows = [self._row(name, i, c) for i, c in enumerate(conditions)]
        rows.append(self._row(name, len(conditions), {}))
        return format_html(
            '<div class="segment-builder" data-repeat="{}" data-repeat-max="{}">'
            '<p class="small muted">Only leads meeting all of these; leave the field on “any lead” to measure every MQL.</p>'
            "{}"
            "<template data-repeat-template>{}</template>"
            '<button type="button" class="btn small secondary" data-repeat-add>+ condition</button>'
            "</div>",
            name,
            SEGMENT_MAX_CONDITIONS,
            format_html_join("", "{}", ((row,) for row in rows)),
            self._row(name, "__index__", {}),
        )


class SegmentField(forms.Field):
    """A commitment's segment: typed conditions checked by the same parser as the services."""

    widget = SegmentWidget

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Only for leads where")
        super().__init__(**kwargs)

    def to_python(self, value) -> list[dict]:
        conditions = []
        for row in value or []:
            if "text" not in row:  # already typed (initial data)
                conditions.append(row)
                continue
            conditions.append(
                {
                    "field": row["field"],
                    "op": row["op"],
                    "value": condition_value(row["field"], row["op"], row["text"]),
                }
            )
        return conditions

    def validate(self, value) -> None:
        super().validate(value)
        try:
            parse_segment(value)
        except SegmentError as error:
            raise forms.ValidationError(_segment_message(str(error))) from error


def _segment_message(text: str) -> str:
    """ "segment[1].value: …" → "Condition 2: …" (people count from one)."""
    return re.sub(r"segment\[(\d+)\](?:\.\w+)?", lambda m: f"Condition {int(m.group(1)) + 1}", text)


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
    segment = SegmentField()
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
            "segment": list(commitment.segment or []),
            "label": commitment.label,
        }

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
