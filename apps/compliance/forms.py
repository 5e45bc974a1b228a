"""Forms of the compliance pages: the period picker, preferences, alert settings."""

from django import forms

from apps.accounts.local_time import LocalDateTimeField
from apps.compliance.models import PERSONAL_CHANNELS, AlertKind
from apps.compliance.periods import PeriodKind
from apps.compliance.selectors import FIRST_DAY, LAST_DAY

OUTCOMES = (("met", "Met"), ("missed", "Missed"), ("pending", "Pending"))


class PeriodForm(forms.Form):
    """Which period to show: its kind and any day in it (the page snaps to the period's start)."""

    period = forms.ChoiceField(
        choices=[(k.value, k.value.title()) for k in PeriodKind], initial=PeriodKind.WEEK
    )
    start = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Any day of the period",
    )
    as_of = LocalDateTimeField(
        required=False,
        help_text="Optional: the numbers as they stood at that moment",
    )

    def clean_start(self):
        start = self.cleaned_data.get("start")
        if start is not None and not FIRST_DAY <= start <= LAST_DAY:
            raise forms.ValidationError(f"Choose a day between {FIRST_DAY} and {LAST_DAY}.")
        return start


class DrilldownForm(PeriodForm):
    outcome = forms.ChoiceField(choices=OUTCOMES, required=False, initial="missed")


def mute_field_name(kind: str, channel: str) -> str:
    return f"send__{kind}__{channel}"


class PreferencesForm(forms.Form):
    """One checkbox per alert kind and personal channel: checked = send it to me."""

    def __init__(self, *args, muted: set[tuple[str, str]] = frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        for kind in AlertKind:
            for channel in PERSONAL_CHANNELS:
                self.fields[mute_field_name(kind, channel)] = forms.BooleanField(
                    required=False,
                    initial=(kind.value, channel.value) not in muted,
                    label=f"{kind.label} — {channel.label}",
                )

    def rows(self) -> list[dict]:
        """The grid the template shows: one row per kind, one bound field per channel."""
        return [
            {
                "kind": kind,
                "fields": [self[mute_field_name(kind, channel)] for channel in PERSONAL_CHANNELS],
            }
            for kind in AlertKind
        ]

    def muted(self) -> set[tuple[str, str]]:
        return {
            (kind.value, channel.value)
            for kind in AlertKind
            for channel in PERSONAL_CHANNELS
            if not self.cleaned_data.get(mute_field_name(kind, channel))
        }


class AlertSettingsForm(forms.Form):
    due_soon_percent = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=99,
        label="Due-soon warning at (% of the window left)",
        help_text="Empty: the default (25 %). A 4-hour clock warns its owner with 1 hour left at 25 %.",
    )
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        label="Webhook URL",
        help_text="Slack incoming webhook or any public http(s) endpoint taking JSON {text, blocks}.",
    )
    webhook_secret = forms.CharField(
        required=False,
        max_length=128,
        widget=forms.PasswordInput(render_value=False),
        label="Signing secret",
        help_text="Leave empty to keep the current one. Each request carries "
        "X-Handoff-Signature: sha256=<HMAC-SHA256 of the body with this secret>.",
    )
    generate_secret = forms.BooleanField(required=False, label="Generate a new secret")
    webhook_enabled = forms.BooleanField(required=False, label="Send alerts to the webhook")
    webhook_kinds = forms.MultipleChoiceField(
        required=False,
        choices=AlertKind.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Alert kinds sent to the webhook",
    )
