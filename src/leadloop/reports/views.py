from dataclasses import replace
from datetime import date

from django.shortcuts import render
from django.utils.translation import gettext as _

from leadloop.core.errors import ApplicationError
from leadloop.pipeline.obligations import KINDS
from leadloop.reports.forms import QualityForm, ReportForm, SlaForm
from leadloop.reports.selectors import funnel, quality, stages_by_period
from leadloop.reports.sla import breach_list, sla_report
from leadloop.routing.models import Timer
from leadloop.web.pages import member_page, paginate, show_error

PERIOD_FORMATS = {"day": "%d/%m", "week": "%d/%m", "month": "%m/%Y"}
NO_CELL = {"count": 0, "url": ""}


def _period_label(start: date, end: date, by: str) -> str:
    label = start.strftime(PERIOD_FORMATS[by])
    return f"{label}–{end.strftime(PERIOD_FORMATS[by])}" if by == "week" else label


def _cell(row: dict) -> dict:
    return {"count": row["count"], "url": row["filter"].page_url()}


def stage_table(rows: list[dict], by: str) -> dict:
    """The report rows as a period × stage grid; every count carries the link to its leads."""
    stages = sorted({(r["position"], r["stage"], r["stage_name"], r["category"]) for r in rows})
    periods: dict[tuple, dict] = {}
    for row in rows:
        periods.setdefault((row["period"], row["period_end"]), {})[row["stage"]] = row
    lines = []
    for (start, end), by_stage in sorted(periods.items()):
        any_row = next(iter(by_stage.values()))
        lines.append(
            {
                "label": _period_label(start, end, by),
                "cells": [
                    _cell(by_stage[key]) if key in by_stage else NO_CELL
                    for _pos, key, _name, _category in stages
                ],
                "total": {
                    "count": sum(r["count"] for r in by_stage.values()),
                    "url": replace(any_row["filter"], stage="").page_url(),
                },
            }
        )
    return {
        "stages": [{"name": name, "category": category} for _pos, _key, name, category in stages],
        "lines": lines,
    }


def chart_data(table: dict) -> dict:
    """Plotly's stacked bars: one trace per stage (`meta`: its category, which picks the colour);
    a bar's customdata is its lead-list link."""
    periods = [line["label"] for line in table["lines"]]
    traces = [
        {
            "type": "bar",
            "name": stage["name"],
            "meta": stage["category"],
            "x": periods,
            "y": [line["cells"][i]["count"] for line in table["lines"]],
            "customdata": [line["cells"][i]["url"] for line in table["lines"]],
            "hovertemplate": "%{fullData.name}: %{y}<extra></extra>",
        }
        for i, stage in enumerate(table["stages"])
    ]
    return {"traces": traces, "x_title": _("Created"), "y_title": _("Leads")}


def _report(form: ReportForm, actor) -> tuple[list, list]:
    """The stage rows and the funnel steps the form asks for; a refused range shows on the form."""
    if not form.is_valid():
        return [], []
    try:
        args = form.report_args()
        return (
            stages_by_period(
                workspace=actor.workspace, fetched_by=actor, by=form.cleaned_data["by"], **args
            ),
            funnel(workspace=actor.workspace, fetched_by=actor, **args),
        )
    except ApplicationError as exc:
        show_error(form, exc)
        return [], []


@member_page
def reports(request):
    form = ReportForm(request.GET, actor=request.actor)
    rows, steps = _report(form, request.actor)
    table = stage_table(rows, form.cleaned_data.get("by", "day"))
    return render(
        request,
        "reports/report.html",
        {
            "form": form,
            "table": table,
            "chart": chart_data(table),
            "funnel": steps,
        },
        status=400 if form.errors else 200,
    )


@member_page
def quality_report(request):
    actor = request.actor
    form = QualityForm(request.GET, actor=actor)
    tables = {}
    if form.is_valid():
        try:
            tables = {
                by: quality(
                    workspace=actor.workspace, fetched_by=actor, by=by, **form.report_args()
                )
                for by in ("source", "campaign")
            }
        except ApplicationError as exc:
            show_error(form, exc)
    return render(
        request,
        "reports/quality.html",
        {"form": form, "tables": tables},
        status=400 if form.errors else 200,
    )


def _sla_label(row: dict, by: str) -> str:
    if not row["key"]:
        return _("Total")
    if row["key"] == "none":
        return _("No rep (assignment)") if by == "rep" else _("No team")
    if by == "day":
        return date.fromisoformat(row["key"]).strftime("%d/%m/%Y")
    return row["name"]


@member_page
def sla_report_page(request):
    """SLA compliance per rep, team or due day, and the breach log of the range."""
    actor = request.actor
    form = SlaForm(request.GET, actor=actor)
    rows, breaches, by = [], None, ""
    if form.is_valid():
        by, args = form.cleaned_data["by"], form.report_args()
        try:
            rows = sla_report(workspace=actor.workspace, fetched_by=actor, by=by, **args)
            breaches = paginate(
                request, breach_list(workspace=actor.workspace, fetched_by=actor, **args)
            )
        except ApplicationError as exc:
            show_error(form, exc)
    shown = [kind for kind in KINDS if rows and rows[-1]["kinds"][kind]["due"]]  # the total's
    for row in rows:
        row["label"] = _sla_label(row, by)
        row["kind_cells"] = [row["kinds"][kind] for kind in shown]
    return render(
        request,
        "reports/sla.html",
        {
            "form": form,
            "rows": rows,
            "kinds": [Timer.Kind(kind).label for kind in shown],
            "breaches": breaches,
            "by_label": dict(form.fields["by"].choices).get(by, ""),
        },
        status=400 if form.errors else 200,
    )
