"""Forms of the onboarding pages: the sample upload and the proposal review."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BaseFormSet, formset_factory

from .importing import max_upload_bytes
from .models import (
    FIELD_RULES,
    Category,
    DataPointType,
    FieldMapping,
    active_type_check,
)


class UploadForm(forms.Form):
    sample = forms.FileField(
        label="Sample file",
        help_text="CSV (comma or semicolon delimited, UTF-8), Excel .xlsx or JSON "
        "lines; a few hundred rows are plenty.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = max_upload_bytes() / (1024 * 1024)
        self.fields["sample"].help_text += f" At most {limit:.0f} MB."


class NewTypeForm(forms.ModelForm):
    """The type a sample creates: it is saved only with its reviewed fields."""

    class Meta:
        model = DataPointType
        fields = ["customer", "category", "name", "description"]
        widgets = {"description": forms.TextInput(attrs={"size": 60})}


class ProposalForm(forms.ModelForm):
    """One proposed field; the examples and the note travel with it between steps."""

    examples = forms.CharField(required=False, widget=forms.HiddenInput)
    note = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = FieldMapping
        fields = [*FIELD_RULES, "references"]
        widgets = {
            "source_field": forms.TextInput(attrs={"size": 18}),
            "cdp_field": forms.TextInput(attrs={"size": 18}),
            "format": forms.TextInput(attrs={"size": 18}),
        }

    def __init__(self, *args, data_point_type: DataPointType, **kwargs):
        super().__init__(*args, **kwargs)
        # The model's own rules (format, Hard-ID, references) need the owner.
        self.instance.data_point_type = data_point_type
        if data_point_type.category == Category.EVENT:
            self.fields["references"].queryset = profile_hard_ids(
                data_point_type.customer_id
            )
        else:
            del self.fields["references"]

    def example_list(self) -> list[str]:
        try:
            shown = json.loads(self["examples"].value() or "[]")
        except ValueError:
            return []  # only ever a display aid: a mangled value shows nothing
        return [str(e) for e in shown] if isinstance(shown, list) else []


def profile_hard_ids(customer_id: int | None):
    """The fields an event may refer to: its customer's profile Hard-IDs."""
    return FieldMapping.objects.filter(
        data_point_type__customer_id=customer_id,
        data_point_type__category=Category.PROFILE,
        hard_id=True,
    ).select_related("data_point_type__customer")


class BaseProposalFormSet(BaseFormSet):
    """Checks what only the whole proposal can tell: names are unique and, when the
    type is to be active, a Hard-ID is chosen."""

    deletion_widget = forms.CheckboxInput
    require_hard_id = False

    def __init__(self, *args, existing: list[FieldMapping] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.existing = list(existing)

    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields["DELETE"].label = "Skip"

    def kept(self) -> list[ProposalForm]:
        return [
            f for f in self.forms if f.cleaned_data and not self._should_delete_form(f)
        ]

    def clean(self):
        if any(self.errors):
            return
        kept = self.kept()
        if not kept:
            raise ValidationError("Every column is skipped: keep at least one.")
        for key, label in (
            ("source_field", "source field"),
            ("cdp_field", "CDP field"),
        ):
            names = [f.cleaned_data[key] for f in kept]
            names += [getattr(f, key) for f in self.existing]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValidationError(f"The {label} {', '.join(twice)} is used twice.")
        active_type_check(
            active=self.require_hard_id,
            hard_ids=[
                *(f.cleaned_data.get("hard_id") for f in kept),
                *(f.hard_id for f in self.existing),
            ],
        )


ProposalFormSet = formset_factory(
    ProposalForm, formset=BaseProposalFormSet, extra=0, can_delete=True
)


class ActivateForm(forms.Form):
    activate = forms.BooleanField(
        required=False,
        initial=True,
        label="Make the type active",
        help_text="Payloads of an inactive type are refused; it needs a Hard-ID.",
    )
