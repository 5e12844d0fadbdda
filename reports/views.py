"""The reports page and a CSV download of each of its tables (thin: form → facts →
figures → render)."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from common.access import driver_required
from common.csv_export import csv_response
from reports import figures, selectors
from reports.forms import ReportFilterForm


def _report(request: HttpRequest) -> tuple[ReportFilterForm, figures.Report, bool]:
    form = ReportFilterForm(request.GET)
    valid = form.is_valid()
    facts = selectors.report_facts(user=request.user, filters=form.filters())
    return form, figures.report_build(facts), valid


@driver_required
@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    """Responders and admins (the people who run incidents and retros); viewers (CS)
    get 403 like every other responder page. Private incidents count only for those
    who may see them."""
    form, report, valid = _report(request)
    return render(
        request,
        "reports/index.html",
        {"form": form, "report": report, "query": request.GET.urlencode()},
        status=200 if valid else 400,
    )


@driver_required
@require_GET
def report_table_csv(request: HttpRequest, key: str) -> HttpResponse:
    form, report, valid = _report(request)
    if not valid:
        return render(request, "reports/index.html", {"form": form, "report": report}, status=400)
    try:
        table = report.table(key)
    except StopIteration:
        raise Http404("No such report table.") from None
    return csv_response(
        f"keel-report-{table.key}.csv", [column.label for column in table.columns], table.rows
    )
