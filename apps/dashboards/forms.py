"""Forms of the dashboard pages: the marketing-spend entry."""

from datetime import date

from django import forms


class MonthField(forms.CharField):
    """A calendar month typed as YYYY-MM (the browser's month picker); cleans to its first day."""

    widget = forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})

    def clean(self, value):
        text = super().clean(value)
        try:
            year, month = (int(part) for part in text.split("-", 1))
            return date(year, month, 1)
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError("Enter a month as YYYY-MM.") from exc


class SpendForm(forms.Form):
    month = MonthField()
    channel = forms.CharField(
        max_length=100,
        help_text="The lead source the money paid for (e.g. paid_search), so CAC lines up.",
        widget=forms.TextInput(attrs={"list": "channels", "autocomplete": "off"}),
    )
    amount = forms.DecimalField(min_value=0, max_digits=14, decimal_places=2)
