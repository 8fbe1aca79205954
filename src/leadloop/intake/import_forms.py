from django import forms
from django.utils.translation import gettext_lazy as _

from leadloop.intake.imports import TARGETS
from leadloop.intake.models import Import
from leadloop.intake.sheets import DELIMITERS, ENCODINGS


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV or Excel (.xlsx) file"),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx"}),
    )
    origin = forms.CharField(
        label=_("Where does this list come from?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Required by the personal data law: for example “sign-ups at the Tết 2027 fair, "
            "with consent”. Buying and selling personal data is banned."
        ),
    )


class LayoutForm(forms.Form):
    """How to read the file: the encoding and delimiter of a CSV, the sheet of a workbook."""

    encoding = forms.ChoiceField(label=_("Encoding"), choices=ENCODINGS.items(), required=False)
    delimiter = forms.ChoiceField(label=_("Delimiter"), choices=DELIMITERS.items(), required=False)
    sheet = forms.ChoiceField(label=_("Sheet"), required=False)

    def __init__(self, *args, job: Import, sheets: list[str], **kwargs):
        initial = {"encoding": job.encoding, "delimiter": job.delimiter, "sheet": job.sheet}
        super().__init__(*args, initial=initial, **kwargs)
        if job.format == "xlsx":
            del self.fields["encoding"], self.fields["delimiter"]
            self.fields["sheet"].choices = [(name, name) for name in sheets]
        else:
            del self.fields["sheet"]


class MappingForm(forms.Form):
    """A target per column (suggested from its name), and the defaults for rows without one."""

    source = forms.CharField(
        label=_("Source"),
        max_length=100,
        required=False,
        help_text=_("For rows without a source column; “import” when empty."),
    )
    campaign = forms.CharField(label=_("Campaign"), max_length=200, required=False)

    def __init__(self, *args, job: Import, **kwargs):
        initial = {f"col{i}": target for i, target in enumerate(job.mapping)}
        initial |= {"source": job.source, "campaign": job.campaign}
        super().__init__(*args, initial=initial, **kwargs)
        self.columns = []
        for index, header in enumerate(job.headers):
            name = f"col{index}"
            self.fields[name] = forms.ChoiceField(
                label=header, choices=TARGETS.items(), required=False
            )
            self.columns.append(self[name])
        self.order_fields([f"col{i}" for i in range(len(job.headers))])

    def mapping(self) -> list[str]:
        return [self.cleaned_data[f"col{i}"] for i in range(len(self.columns))]
