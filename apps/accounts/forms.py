from django import forms
from django.contrib.auth.forms import AuthenticationForm

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
