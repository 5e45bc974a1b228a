"""Browser forms of the leads pages: list filters, reassignment, routing rules, CSV upload."""

from __future__ import annotations

from django import forms

from apps.leads import selectors
from apps.leads.models import Stage
from apps.leads.routing import ROUTING_FIELDS, ROUTING_OPS

CONDITION_ROWS = 5


class LeadFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, email, company, id"}),
    )
    stage = forms.ChoiceField(required=False, choices=[("", "Any stage"), *Stage.choices])
    owner = forms.ChoiceField(required=False)
    source = forms.ChoiceField(required=False)
    campaign = forms.ChoiceField(required=False)
    created_from = forms.DateField(
        required=False, label="Created from", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        required=False, label="to", widget=forms.DateInput(attrs={"type": "date"})
    )
    mql_from = forms.DateField(
        required=False, label="MQL from", widget=forms.DateInput(attrs={"type": "date"})
    )
    mql_to = forms.DateField(
        required=False, label="to", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, choices: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [
            ("", "Anyone"),
            (selectors.UNASSIGNED, "Unassigned"),
            *[(str(u.pk), u.name or u.email) for u in choices["owners"]],
        ]
        self.fields["source"].choices = [("", "Any source"), *[(s, s) for s in choices["sources"]]]
        self.fields["campaign"].choices = [
            ("", "Any campaign"),
            *[(c, c) for c in choices["campaigns"]],
        ]

    def filters(self) -> selectors.LeadFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return selectors.LeadFilters(
            stages=(data["stage"],) if data.get("stage") else (),
            owner=data.get("owner") or None,
            source=data.get("source") or None,
            campaign=data.get("campaign") or None,
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
            mql_from=data.get("mql_from"),
            mql_to=data.get("mql_to"),
            q=data.get("q") or None,
        )


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=selectors.routing_pool_candidates(), label="New owner")
    reason = forms.CharField(required=False, max_length=200, label="Reason (optional)")


class RoutingRuleForm(forms.Form):
    name = forms.CharField(max_length=120)
    pool = forms.ModelMultipleChoiceField(
        queryset=selectors.routing_pool_candidates(),
        widget=forms.CheckboxSelectMultiple,
        label="Pool (round robin)",
        required=False,
    )
    is_fallback = forms.BooleanField(
        required=False, label="Fallback: takes every lead no other rule matched"
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for n in range(CONDITION_ROWS):
            self.fields[f"c{n}_field"] = forms.ChoiceField(
                required=False, choices=[("", "—"), *ROUTING_FIELDS.items()], label="Field"
            )
            self.fields[f"c{n}_op"] = forms.ChoiceField(
                required=False, choices=list(ROUTING_OPS.items()), label="Operator"
            )
            self.fields[f"c{n}_value"] = forms.CharField(required=False, label="Value")

    def condition_rows(self):
        return [
            (self[f"c{n}_field"], self[f"c{n}_op"], self[f"c{n}_value"])
            for n in range(CONDITION_ROWS)
        ]

    def conditions(self) -> list[dict]:
        rows = []
        for n in range(CONDITION_ROWS):
            field_name = self.cleaned_data.get(f"c{n}_field")
            if field_name:
                rows.append(
                    {
                        "field": field_name,
                        "op": self.cleaned_data.get(f"c{n}_op"),
                        "value": self.cleaned_data.get(f"c{n}_value"),
                    }
                )
        return rows

    @staticmethod
    def initial_for(rule) -> dict:
        initial = {
            "name": rule.name,
            "pool": list(rule.pool.all()),
            "is_fallback": rule.is_fallback,
            "is_active": rule.is_active,
        }
        for n, condition in enumerate(rule.conditions[:CONDITION_ROWS]):
            value = condition.get("value")
            initial[f"c{n}_field"] = condition.get("field")
            initial[f"c{n}_op"] = condition.get("op")
            initial[f"c{n}_value"] = (
                ", ".join(map(str, value)) if isinstance(value, list) else value
            )
        return initial


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="A HubSpot or Salesforce contact/lead export, or any CSV with a header row.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
