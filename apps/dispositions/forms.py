"""Browser forms of the queue, the lead panel and the reason-code settings (input parsing only:
the rules live in services)."""

from django import forms

from apps.dispositions.models import REASON_REQUIRED, Outcome, ReasonCode
from apps.dispositions.services import LABEL_MAX_LENGTH, NOTE_MAX_LENGTH
from apps.leads.models import SALES_TOUCH_KINDS, ActivityKind

TOUCH_CHOICES = [(kind.value, kind.label) for kind in ActivityKind if kind in SALES_TOUCH_KINDS]
# One-word labels for the queue's one-click buttons.
TOUCH_BUTTONS = {
    "call": "Call",
    "email_sent": "Email",
    "meeting": "Meeting",
    "sms": "SMS",
    "social": "Social",
}


class ReasonChoiceField(forms.ModelChoiceField):
    """Live reason codes, grouped by outcome in the select."""

    def __init__(self, **kwargs):
        super().__init__(
            queryset=ReasonCode.objects.filter(retired_at__isnull=True).order_by(
                "outcome", "position", "id"
            ),
            required=False,
            **kwargs,
        )

    def label_from_instance(self, obj: ReasonCode) -> str:
        return obj.label


class DispositionForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=Outcome.choices,
        error_messages={"required": "Choose an outcome.", "invalid_choice": "Choose an outcome."},
    )
    # Required-ness depends on the outcome: the service says so, naming the field.
    reason_code = ReasonChoiceField()
    note = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH, widget=forms.Textarea)


class TouchForm(forms.Form):
    kind = forms.ChoiceField(choices=TOUCH_CHOICES)
    note = forms.CharField(required=False, max_length=NOTE_MAX_LENGTH)


class ReasonCodeForm(forms.Form):
    label = forms.CharField(max_length=LABEL_MAX_LENGTH)
    outcome = forms.ChoiceField(
        choices=[(o.value, o.label) for o in Outcome if o in REASON_REQUIRED]
    )


class ReasonCodeRenameForm(forms.Form):
    label = forms.CharField(max_length=LABEL_MAX_LENGTH)


class ReassignForm(forms.Form):
    owner = forms.IntegerField()
    reason = forms.CharField(required=False, max_length=200)
