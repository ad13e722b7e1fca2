"""The form of the admin's Try a payload page."""

from django import forms

from mappings.categories import PATH_OF_CATEGORY
from mappings.models import Customer, Environment

ENDPOINTS = [
    (f"{version}/{path}", f"POST /{version}/{path}")
    for version in ("v2", "v3")
    for path in PATH_OF_CATEGORY.values()
]


class TryPayloadForm(forms.Form):
    customer = forms.ModelChoiceField(Customer.objects.all())
    endpoint = forms.ChoiceField(choices=ENDPOINTS)
    environment = forms.ChoiceField(choices=Environment.choices)
    body = forms.CharField(
        strip=False,
        label="JSON body",
        widget=forms.Textarea(
            attrs={"rows": 18, "cols": 90, "spellcheck": "false", "class": "dt-code"}
        ),
    )
