"""Explicit registry of formats; a writer's module (and its libraries) load on first use."""

from importlib import import_module

from django.utils.translation import gettext_lazy

from exports.formats.base import Options, Table, Writer
from exports.i18n import later

WRITERS: dict[str, tuple[str, str]] = {
    "csv": ("CSV", "exports.formats.csv.CsvWriter"),
    "json": ("JSON", "exports.formats.json.JsonWriter"),
    "xlsx": ("Excel (XLSX)", "exports.formats.xlsx.XlsxWriter"),
    "ods": ("OpenDocument spreadsheet (ODS)", "exports.formats.ods.OdsWriter"),
    "tsvzip": ("TSV files in a ZIP", "exports.formats.tsv_zip.TsvZipWriter"),
    "sqlite": ("SQLite database", "exports.formats.sqlite.SqliteWriter"),
    "sql": ("SQL (SQLite dialect)", "exports.formats.sql.SqlWriter"),
    "r": ("R script", "exports.formats.r.RWriter"),
}


class UnknownFormat(LookupError):
    pass


class MissingDependency(RuntimeError):
    """An optional library a format needs is not installed."""


def format_choices() -> list[tuple[str, str]]:
    return [(key, label) for key, (label, _) in WRITERS.items()]


def get_writer(fmt: str) -> type[Writer]:
    try:
        _, dotted = WRITERS[fmt]
    except KeyError:
        raise UnknownFormat(
            later(gettext_lazy("Unknown format %(name)s."), name=repr(fmt))
        ) from None
    module_name, class_name = dotted.rsplit(".", 1)
    try:
        module = import_module(module_name)
    except ImportError as exc:
        text = gettext_lazy(
            "The %(format)s format needs the Python package %(package)s, which is not installed."
        )
        raise MissingDependency(later(text, format=fmt, package=repr(exc.name))) from exc
    return getattr(module, class_name)


__all__ = ["WRITERS", "MissingDependency", "Options", "Table", "UnknownFormat", "get_writer"]
