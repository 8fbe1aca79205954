"""The import wizard: upload, check how the file is read and mapped, run, follow, download the
error report."""

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leadloop.core.errors import ApplicationError
from leadloop.intake.import_forms import LayoutForm, MappingForm, UploadForm
from leadloop.intake.imports import (
    import_confirm,
    import_discard,
    import_get,
    import_list,
    import_preview,
    import_problems,
    import_relayout,
    import_sheets,
    import_upload,
)
from leadloop.intake.models import Import
from leadloop.pipeline.exports import csv_lines, safe
from leadloop.web.pages import member_page, show_error

RECENT = 20


@member_page
def import_index(request):
    actor = request.actor
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_upload(
                workspace=actor.workspace,
                actor=actor,
                upload=form.cleaned_data["file"],
                origin=form.cleaned_data["origin"],
            )
        except ApplicationError as exc:
            show_error(form, exc)
        else:
            return redirect("import-detail", job.pk)
    imports = import_list(workspace=actor.workspace, fetched_by=actor)[:RECENT]
    status = 422 if form.errors else 200
    return render(
        request, "intake/import_index.html", {"form": form, "imports": imports}, status=status
    )


def _job(request, import_id: int) -> Import:
    return import_get(
        workspace=request.actor.workspace, fetched_by=request.actor, import_id=import_id
    )


def _detail(request, job: Import, *, layout_form=None, mapping_form=None, status: int = 200):
    context = {"job": job}
    if job.status == Import.Status.DRAFT:
        mapping_form = mapping_form or MappingForm(job=job)
        mapping = (
            mapping_form.mapping() if mapping_form.is_bound and mapping_form.is_valid() else None
        )
        context |= {
            "layout_form": layout_form or LayoutForm(job=job, sheets=import_sheets(job)),
            "mapping_form": mapping_form,
            "preview": import_preview(job=job, mapping=mapping),
        }
    return render(request, "intake/import_detail.html", context, status=status)


@require_POST
@member_page
def import_drop(request, import_id: int):
    job = _job(request, import_id)
    try:
        import_discard(job=job, actor=request.actor)
    except ApplicationError as exc:  # started meanwhile: show how it goes
        messages.error(request, exc.message)
        return redirect("import-detail", job.pk)
    messages.success(request, _("The import of %(file)s was discarded.") % {"file": job.file_name})
    return redirect("import-index")


@member_page
def import_detail(request, import_id: int):
    return _detail(request, _job(request, import_id))


@require_POST
@member_page
def import_layout(request, import_id: int):
    job = _job(request, import_id)
    form = LayoutForm(request.POST, job=job, sheets=import_sheets(job))
    if form.is_valid():
        try:
            import_relayout(job=job, actor=request.actor, **form.cleaned_data)
        except ApplicationError as exc:
            show_error(form, exc)
        else:
            return redirect("import-detail", job.pk)
    return _detail(request, _job(request, import_id), layout_form=form, status=422)


@require_POST
@member_page
def import_start(request, import_id: int):
    job = _job(request, import_id)
    if job.status != Import.Status.DRAFT:  # sent twice: show how it goes
        return redirect("import-detail", job.pk)
    form = MappingForm(request.POST, job=job)
    if "preview" in request.POST or not form.is_valid():
        return _detail(request, job, mapping_form=form, status=200 if form.is_valid() else 422)
    try:
        import_confirm(
            job=job,
            actor=request.actor,
            mapping=form.mapping(),
            source=form.cleaned_data["source"],
            campaign=form.cleaned_data["campaign"],
        )
    except ApplicationError as exc:
        show_error(form, exc)
        return _detail(request, _job(request, import_id), mapping_form=form, status=422)
    return redirect("import-detail", job.pk)


@member_page
def import_progress(request, import_id: int):
    job = _job(request, import_id)
    if not request.htmx:
        return redirect("import-detail", job.pk)
    return render(request, "intake/_import_progress.html", {"job": job})


@member_page
def import_errors(request, import_id: int):
    job = _job(request, import_id)
    problems = import_problems(job=job).iterator(chunk_size=2000)
    rows = ([problem.row, safe(problem.column), safe(problem.reason)] for problem in problems)
    response = StreamingHttpResponse(
        csv_lines([_("Row"), _("Column"), _("Reason")], rows),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response
