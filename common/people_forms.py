"""Forms of the people pages (``common.people_views``)."""

from django import forms

from common.people_models import Role


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, help_text="The one-time link goes to this address.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AcceptForm(forms.Form):
    username = forms.CharField(
        max_length=150, help_text="Letters, digits and @ . + - _; what you sign in with."
    )
    password = forms.CharField(max_length=128, widget=forms.PasswordInput, strip=False)
    password_again = forms.CharField(
        label="Password (again)", max_length=128, widget=forms.PasswordInput, strip=False
    )
