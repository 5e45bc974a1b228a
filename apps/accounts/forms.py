from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from apps.accounts.audit_wording import KINDS, kind_prefixes
from apps.accounts.models import Scope
from apps.accounts.roles import Role


class EmailLoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class InviteForm(forms.Form):
    email = forms.EmailField()
    name = forms.CharField(
        max_length=150, required=False, help_text="Optional; the person can change it."
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.REP)


class UserEditForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    is_active = forms.BooleanField(required=False, label="Active")


class InvitationAcceptForm(forms.Form):
    name = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password_again = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), label="Password (again)"
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “HubSpot sync”.")
    scopes = forms.MultipleChoiceField(
        choices=[
            (Scope.READ, "Read"),
            (Scope.WRITE, "Write (push leads, activities, dispositions)"),
        ],
        initial=[Scope.READ, Scope.WRITE],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: read and write.",
    )
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=366, required=False, label="Expires in (days)",
        help_text="Empty: never.",
    )  # fmt: skip


class AuditFilterForm(forms.Form):
    """The audit log's filters: who, what kind, which days (in the organization's zone), words."""

    person = forms.ChoiceField(required=False, label="Person")
    kind = forms.ChoiceField(required=False, label="Kind")
    since = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    until = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    q = forms.CharField(required=False, max_length=100, label="Search")

    def __init__(self, *args, people=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [
            ("", "Everyone"),
            ("system", "The system and API keys"),
            *[(str(user.pk), str(user)) for user in people],
        ]
        self.fields["kind"].choices = [
            ("", "Every kind"),
            *[(key, label) for key, (label, _prefixes) in KINDS.items()],
        ]

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The last day comes before the first.")
        return data

    def selection(self) -> dict:
        """The cleaned filters as selectors.audit_event_list arguments (days → instants)."""
        data = self.cleaned_data if self.is_valid() else {}
        person = data.get("person") or ""
        since, until = data.get("since"), data.get("until")
        return {
            "actor_id": int(person) if person.isdigit() else None,
            "system_only": person == "system",
            "prefixes": kind_prefixes(data.get("kind") or ""),
            "since": _midnight(since) if since else None,
            "until": _midnight(until + timedelta(days=1)) if until else None,
            "search": data.get("q") or "",
        }


def _midnight(day: date) -> datetime:
    """The start of a day in the organization's zone (the zone of the request)."""
    return timezone.make_aware(datetime.combine(day, time.min))


class TokenForm(forms.Form):
    """A personal token: what it may do and how long it lives."""

    name = forms.CharField(max_length=100, initial="My token")
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)
    expires_in_days = forms.IntegerField(min_value=1, max_value=366, label="Expires in (days)")

    def __init__(self, *args, user, max_age_days: int, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = [Scope.READ, Scope.WRITE]
        if user.role in (Role.MARKETING_LEADER, Role.SALES_LEADER):
            allowed.append(Scope.SIGN)
        if user.role == Role.ADMIN:
            allowed.append(Scope.ADMIN)
        self.fields["scopes"].choices = [(s, Scope(s).label) for s in allowed]
        self.fields["scopes"].initial = [Scope.READ, Scope.WRITE]
        self.fields["expires_in_days"].initial = max_age_days


class TwoFactorCodeForm(forms.Form):
    code = forms.CharField(
        max_length=20,
        label="Code from your authenticator app",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
        help_text="Six digits; or one of your recovery codes.",
    )


class TwoFactorDisableForm(forms.Form):
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    code = forms.CharField(max_length=20, label="Current code (or a recovery code)")
