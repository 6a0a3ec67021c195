"""Admin building blocks shared by the apps' operator pages (SPEC §5)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path

from . import clock


class ScopedAdminMixin:
    """Every permission of a page comes from one scope held through a permission group
    (IAM-2), not from Django's per-model permissions. Nothing is deleted here: history
    stays, and records are disabled, revoked or taken off sale instead."""

    scope = ""
    read_only = False

    def _allowed(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.has_perm(f"accounts.{self.scope}")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not self.read_only and self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self.read_only and self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdminMixin:
    """Records written only by the action functions: shown, never edited here."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _Echo:
    """A file that hands back what is written, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class CsvExportMixin:
    """Export CSV of a changelist: exactly the rows its current filters, search and date
    drill-down select, in its order, streamed in chunks so a long ledger never sits in
    memory. csv_columns maps a header to a function of the row."""

    csv_columns: dict[str, Callable[[Any], Any]] = {}
    csv_name = "export"
    change_list_template = "admin/csv_change_list.html"

    def get_urls(self) -> list[Any]:
        opts = self.model._meta  # type: ignore[attr-defined]
        export = self.admin_site.admin_view(self.export_csv)  # type: ignore[attr-defined]
        name = f"{opts.app_label}_{opts.model_name}_export"
        return [path("export.csv", export, name=name), *super().get_urls()]  # type: ignore[misc]

    def export_csv(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("Unknown filter.")
        rows = changelist.get_queryset(request).iterator(chunk_size=500)
        writer = csv.writer(_Echo())
        columns = list(self.csv_columns.items())

        def lines() -> Iterator[str]:
            yield writer.writerow([header for header, _value in columns])
            for row in rows:
                yield writer.writerow([csv_cell(value(row)) for _header, value in columns])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        stamp = clock.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="{self.csv_name}-{stamp}.csv"'
        return response
