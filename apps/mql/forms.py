from django import forms

from apps.mql.models import DefinitionKind
from apps.mql.services import BACKTEST_MAX_DAYS


class DraftCreateForm(forms.Form):
    kind = forms.ChoiceField(choices=DefinitionKind.choices)
    based_on = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(max_length=200, required=False)


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What should change, and why?"}),
    )


class BacktestForm(forms.Form):
    days = forms.IntegerField(
        label="Replay the last", min_value=1, max_value=BACKTEST_MAX_DAYS, initial=90
    )
