from django import forms


class SignupForm(forms.Form):
    name = forms.CharField(label="Organization name", max_length=120)
    subdomain = forms.CharField(
        max_length=40,
        help_text="Your team's address: letters, digits and hyphens.",
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    admin_name = forms.CharField(label="Your name", max_length=150)
    admin_email = forms.EmailField(label="Your work email")
    admin_password = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
