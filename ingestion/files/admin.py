"""The admin of file uploads: upload a file for a customer (the API's own service),
the list of uploads with their counts, a progress bar, the rejected rows as CSV."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from datatalks.admin_pages import OwnPagesMixin
from datatalks.admin_readonly import ReadOnlyAdminMixin
from datatalks.errors import ApiError
from ingestion.caller import ApiCaller
from ingestion.models import Environment, FileStatus, FileUpload
from mappings.models import Customer, DataPointType

from .receiving import file_receive
from .services import file_accept
from .views import errors_csv, file_summary


class FileUploadForm(forms.Form):
    """A file for a customer: the same choices as the API's query string."""

    customer = forms.ModelChoiceField(queryset=Customer.objects.filter(active=True))
    environment = forms.ChoiceField(
        choices=Environment.choices, initial=Environment.PRODUCTION
    )
    type = forms.ModelChoiceField(
        queryset=DataPointType.objects.filter(active=True).select_related("customer"),
        help_text="A data point type of the customer: its category decides the endpoint.",
    )
    group_key = forms.CharField(
        required=False, help_text="Empty: the customer's default group key."
    )
    file = forms.FileField(help_text="CSV, JSON lines or XLSX (first sheet).")

    def __init__(self, *args, customer: Customer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if customer is not None:
            self.fields["type"].queryset = self.fields["type"].queryset.filter(
                customer=customer
            )

    def clean(self):
        data = super().clean()
        chosen_type, customer = data.get("type"), data.get("customer")
        if chosen_type and customer and chosen_type.customer_id != customer.pk:
            self.add_error("type", "Not a type of this customer.")
        return data


class FileUploadAdmin(OwnPagesMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Uploads are added through the upload page only (through the API's service),
    and never changed by hand."""

    list_display = [
        "created_at",
        "customer",
        "environment",
        "type_name",
        "format",
        "status",
        "rows_accepted",
        "rows_rejected",
        "progress_shown",
        "uploaded",
    ]
    list_filter = ["status", "environment", "format", "customer"]
    search_fields = ["=id", "type_name", "access_key_id", "uploaded_by"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    # Status and counts are in the progress box, which follows a running file.
    fields = [
        "id",
        "customer",
        "environment",
        "type_name",
        "group_key",
        "format",
        "size",
        "sha256",
        "failure",
        "created_at",
        "started_at",
        "finished_at",
        "deleted_at",
        "access_key_id",
        "uploaded_by",
    ]
    readonly_fields = fields
    change_form_template = "admin/ingestion/fileupload/change_form.html"
    change_list_template = "admin/ingestion/fileupload/change_list.html"

    def may_upload(self, request) -> bool:
        return request.user.has_perm("ingestion.add_fileupload")

    @admin.display(description="progress")
    def progress_shown(self, obj):
        return f"{obj.progress * 100:.0f}%"

    @admin.display(description="uploaded by")
    def uploaded(self, obj):
        return obj.uploaded_by or obj.access_key_id

    pages = [
        ("upload/", "upload_view", "upload"),
        ("<uuid:file_id>/progress.json", "progress_view", "progress"),
        ("<uuid:file_id>/errors.csv", "errors_view", "errors"),
    ]

    def changelist_view(self, request, extra_context=None):
        extra = {"may_upload": self.may_upload(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"running": (FileStatus.QUEUED, FileStatus.PROCESSING)}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def upload_view(self, request):
        if not self.may_upload(request):
            raise PermissionDenied
        customer = _customer(request)
        form = FileUploadForm(
            request.POST or None,
            request.FILES or None,
            customer=customer,
            initial={"customer": customer},
        )
        if request.method == "POST" and form.is_valid():
            upload = self._upload(request, form)
            if upload is not None:
                url = reverse("admin:ingestion_fileupload_change", args=[upload.pk])
                return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload a file",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(
            request, "admin/ingestion/fileupload/upload.html", context
        )

    def _upload(self, request, form) -> FileUpload | None:
        data, uploaded = form.cleaned_data, form.cleaned_data["file"]
        caller = ApiCaller(
            customer=data["customer"], environment=data["environment"], access_key_id=""
        )
        try:
            received = file_receive(
                stream=uploaded, content_type=uploaded.content_type or "", length=None
            )
            upload = file_accept(
                caller=caller,
                category=data["type"].category,
                type_name=data["type"].name,
                group_key=data["group_key"] or None,
                received=received,
                uploaded_by=request.user.get_username(),
            )
        except ApiError as exc:
            form.add_error("file", list(exc.messages))
            return None
        self.log_addition(request, upload, "Uploaded in the admin.")
        self.message_user(
            request,
            format_html(
                "The file {} is queued: this page follows its progress.", uploaded.name
            ),
            messages.SUCCESS,
        )
        return upload

    def progress_view(self, request, file_id):
        upload = get_object_or_404(FileUpload, pk=file_id)
        if not self.has_view_permission(request, upload):
            raise PermissionDenied
        return JsonResponse(file_summary(upload))

    def errors_view(self, request, file_id):
        upload = get_object_or_404(FileUpload, pk=file_id)
        if not self.has_view_permission(request, upload):
            raise PermissionDenied
        response = StreamingHttpResponse(
            errors_csv(upload), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="{upload.pk}-errors.csv"'
        )
        return response


def _customer(request) -> Customer | None:
    raw = request.GET.get("customer") or request.POST.get("customer")
    if not raw or not str(raw).isdigit():
        return None
    return Customer.objects.filter(pk=raw).first()
