"""SQL for PostgreSQL's COPY: a dataset's query with its parameters inlined, and SQL
expressions that print a column exactly as formats.base.text_cell() would.

COPY takes no bind parameters, so the queryset's parameters are inlined by psycopg's own
client-side quoting (ClientCursor.mogrify), never by string formatting.
"""

import array
import functools
import re
import sys
from collections.abc import Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper

from exports.datasets.base import Column, Dataset, resolve_field
from exports.engine.tables import TableSource
from exports.formats.base import FORMULA_TRIGGERS, PLAIN_NUMBER

# Decimals print the same in Python and PostgreSQL while str(Decimal) stays out of
# scientific notation, which holds for up to 6 decimal places.
MAX_DECIMAL_PLACES = 6


def inline(connection: BaseDatabaseWrapper, query: str, params: Sequence[Any]) -> str:
    """Django's compiled SQL with its parameters quoted in, exactly as Django would send them."""
    return psycopg.ClientCursor(connection.connection).mogrify(query, params)


def select_sql(source: TableSource) -> tuple[BaseDatabaseWrapper, Any, str | None]:
    """(connection, compiler, inlined SELECT of every dataset column in dataset order) for a
    table; the SELECT is None when the filters can match nothing (Django will not compile it)."""
    columns = [c.source for c in source.dataset.columns]
    qs = source.queryset().values_list(*columns)
    connection = connections[qs.db]
    compiler = qs.query.get_compiler(using=qs.db)
    if connection.vendor != "postgresql":
        return connection, compiler, None
    connection.ensure_connection()
    try:
        return connection, compiler, inline(connection, *compiler.as_sql())
    except EmptyResultSet:
        return connection, compiler, None


def copyable(source: TableSource) -> bool:
    """COPY can stand in for Dataset.rows() on PostgreSQL when rows() is the stock
    values_list over the columns (every declared dataset)."""
    dataset = source.dataset
    model = dataset.get_queryset().model
    return (
        type(dataset).rows is Dataset.rows
        and connections[router.db_for_read(model)].vendor == "postgresql"
    )


def wrap(inner: str, width: int, expressions: Sequence[str]) -> str:
    """Select `expressions` over the inner query's columns, named c0, c1, ... by position."""
    names = ", ".join(f"c{i}" for i in range(width))
    return f"SELECT {', '.join(expressions)} FROM ({inner}) AS q({names})"  # noqa: S608


def model_field(source: TableSource, column: Column) -> models.Field:
    field = resolve_field(source.dataset.model, column.source)
    return field.target_field if field.is_relation else field


def text_sql(field: models.Field, ref: str, *, neutralise: bool, zone: str = "UTC") -> str | None:
    """SQL printing the value as text_of() does (or text_cell() when `neutralise`), NULL for
    None; None when PostgreSQL cannot be trusted to print it identically (floats, intervals...)."""
    if isinstance(field, models.BooleanField):
        return f"CASE WHEN {ref} THEN 'true' WHEN NOT {ref} THEN 'false' END"
    if isinstance(field, models.DateTimeField):
        return iso_text(ref, zone) if settings.USE_TZ else None
    if isinstance(field, models.DateField):
        return f"to_char({ref}, 'YYYY-MM-DD')"
    if isinstance(field, models.IntegerField | models.AutoField | models.UUIDField):
        return f"{ref}::text"
    if isinstance(field, models.DecimalField) and field.decimal_places <= MAX_DECIMAL_PLACES:
        return f"{ref}::text"
    if isinstance(field, models.CharField | models.TextField):
        return neutralised(ref) if neutralise else ref
    if isinstance(field, models.JSONField):
        return json_text(ref, neutralise=neutralise)
    return None


def csv_sql(field: models.Field, ref: str, zone: str = "UTC") -> str | None:
    """text_cell() for CSV/TSV, where an empty string and None both print as nothing.
    Numbers and UUIDs go out as they are: COPY prints them as ::text would, only cheaper."""
    if isinstance(field, models.IntegerField | models.AutoField | models.UUIDField):
        return ref
    if isinstance(field, models.CharField | models.TextField):
        return neutralised(ref, empty_as_null=True)
    text = text_sql(field, ref, neutralise=True, zone=zone)
    if text is None or not isinstance(field, models.JSONField):
        return text
    return f"NULLIF({text}, '')"


def json_sql(column: Column, field: models.Field, ref: str, zone: str = "UTC") -> str | None:
    """The JSON text JsonWriter gives the value: by the column's kind, 'null' for None."""
    integer = isinstance(field, models.IntegerField | models.AutoField)
    if column.kind == "integer":
        return f"COALESCE({ref}::text, 'null')" if integer else None
    if column.kind in ("float", "decimal"):
        exact = integer or (
            isinstance(field, models.DecimalField) and field.decimal_places <= MAX_DECIMAL_PLACES
        )
        finite = (
            f"CASE WHEN {ref}::text NOT IN ('NaN', 'Infinity', '-Infinity') THEN {ref}::text END"
        )
        return f"COALESCE({finite}, 'null')" if exact else None
    if column.kind == "boolean":
        if not isinstance(field, models.BooleanField):
            return None
        return f"CASE WHEN {ref} THEN 'true' WHEN NOT {ref} THEN 'false' ELSE 'null' END"
    if column.kind == "json":
        return f"COALESCE({ref}::text, 'null')" if isinstance(field, models.JSONField) else None
    if isinstance(field, models.DateTimeField) and settings.USE_TZ:
        if zone in WHOLE_HOUR_ZONES:
            return f"""COALESCE('"' || {iso_text(ref, zone)} || '"', 'null')"""
        return f"COALESCE(to_json({ref})::text, 'null')"  # iso_text(), quoted
    text = text_sql(field, ref, neutralise=False, zone=zone)
    return None if text is None else f"COALESCE(to_json({text})::text, 'null')"


# Kinds whose JSON text is a number, a boolean or JSON itself: everything else is a string.
JSON_UNQUOTED = frozenset({"integer", "float", "decimal", "boolean", "json"})


def json_bare_sql(
    column: Column, field: models.Field, ref: str, zone: str = "UTC", *, nullable: bool = True
) -> str | None:
    """json_sql() less what the client adds (engine.jsonblocks): strings without their
    quotes or escapes, NULL for a null string; an integer that cannot be NULL as it is.
    JSON columns hold quotes that must stay as they are, so they keep json_sql() (None)."""
    if column.kind == "json":
        return None
    if column.kind == "integer" and not nullable:
        return ref if isinstance(field, models.IntegerField | models.AutoField) else None
    if column.kind in JSON_UNQUOTED:
        return json_sql(column, field, ref, zone)
    if isinstance(field, models.DateTimeField) and settings.USE_TZ:
        return iso_text(ref, zone)
    return text_sql(field, ref, neutralise=False, zone=zone)


def sqlite_text_sql(column: Column, field: models.Field, ref: str, zone: str = "UTC") -> str | None:
    """sqlite_sql() for COPY's text format, where the client binds every value as text and
    the column's affinity types it as the writer's binder would: booleans as 1 and 0.
    Floats are left to the binary COPY: SQLite's own text-to-REAL is not Python's float()."""
    if column.kind == "float":
        return None
    if column.kind == "boolean" and isinstance(field, models.BooleanField):
        return f"{ref}::int"
    return sqlite_sql(column, field, ref, zone)


def sqlite_sql(column: Column, field: models.Field, ref: str, zone: str = "UTC") -> str | None:
    """What formats.sqlite.binders() makes of the value, typed for a binary COPY: integers,
    floats and booleans as they are, everything else as the text the binder gives."""
    kind = column.kind
    integer = isinstance(field, models.IntegerField | models.AutoField)
    if kind == "integer":
        return ref if integer else None
    if kind == "float":
        return ref if isinstance(field, models.FloatField) else None
    if kind == "decimal":
        exact = isinstance(field, models.DecimalField) and (
            field.decimal_places <= MAX_DECIMAL_PLACES
        )
        return ref if integer else f"{ref}::text" if exact else None
    if kind == "boolean":
        return ref if isinstance(field, models.BooleanField) else None
    if kind == "json":
        if not isinstance(field, models.JSONField):
            return None
        # Django reads JSON null as None, which the binder keeps as NULL.
        return f"CASE WHEN jsonb_typeof({ref}) <> 'null' THEN {ref}::text END"
    if isinstance(field, models.CharField | models.TextField):
        return ref
    if isinstance(field, models.JSONField):
        return None
    return text_sql(field, ref, neutralise=False, zone=zone)


# Zones whose offset is always a whole number of hours: PostgreSQL's own output of a
# timestamptz (DateStyle ISO, which copystream.session_zone() sets) then needs only a T and
# the offset's minutes, for less than to_json() costs.
WHOLE_HOUR_ZONES = frozenset({"UTC", "Etc/UTC"})


def iso_text(ref: str, zone: str = "UTC") -> str:
    """formats.base.iso_text() of a timestamptz (naive times, USE_TZ = False, are left to
    Python) in the session's TimeZone (copystream.session_zone() sets it to `zone`):
    to_json() prints ISO 8601 with its offset whatever the DateStyle, offsets with minutes or
    seconds included, for less than to_char() costs."""
    if zone in WHOLE_HOUR_ZONES:
        return f"replace({ref}::text, ' ', 'T') || ':00'"
    return f"""btrim(to_json({ref})::text, '"')"""


def json_text(ref: str, *, neutralise: bool) -> str:
    """Django loads a jsonb string as str, JSON null as None; containers and numbers print as
    jsonb's text, which uses json.dumps' separators. Known difference: a stored number such
    as 1.10 prints as stored, where Python prints its float (1.1)."""
    unquoted = f"({ref} #>> '{{}}')"
    string = neutralised(unquoted) if neutralise else unquoted
    return (
        f"CASE jsonb_typeof({ref}) WHEN 'string' THEN {string}"
        f" WHEN 'null' THEN NULL ELSE {ref}::text END"
    )


def neutralised(ref: str, *, empty_as_null: bool = False) -> str:
    """formats.base.neutralise() in SQL (NULL for '' when `empty_as_null`, as CSV wants).
    Nearly all text starts with a letter, past every trigger: one comparison settles it.
    Only a sign can start a plain number, so only text starting with one meets the regular
    expression (matching it cost more than all the rest for text such as '=cmd|...')."""
    signs = [ord(t) for t in FORMULA_TRIGGERS if PLAIN_NUMBER.fullmatch(t + "1")]
    others = [ord(t) for t in FORMULA_TRIGGERS if ord(t) not in signs]
    empty = f" WHEN {ref} = '' THEN NULL" if empty_as_null else ""
    return (
        f"CASE WHEN ascii({ref}) > {max(signs + others)} THEN {ref}{empty}"
        f" WHEN ascii({ref}) IN ({', '.join(map(str, others))}) THEN '''' || {ref}"
        f" WHEN ascii({ref}) IN ({', '.join(map(str, signs))})"
        f" AND {ref} !~ {literal(plain_number_regex())} THEN '''' || {ref} ELSE {ref} END"
    )


@functools.cache
def plain_number_regex() -> str:
    r"""PLAIN_NUMBER as a PostgreSQL regular expression. Python's \d is any Unicode decimal
    digit; PostgreSQL's is locale-dependent, so the digits are spelled out."""
    assert PLAIN_NUMBER.pattern == r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", (
        "formats.base.PLAIN_NUMBER changed: update plain_number_regex() to mirror it"
    )
    digits = f"[{digit_ranges()}]"
    return f"^[+-]?({digits}+\\.?{digits}*|\\.{digits}+)([eE][+-]?{digits}+)?$"


@functools.cache
def digit_ranges() -> str:
    """Every character Python's re matches with \\d, as bracket-expression ranges. Unicode is
    read a plane at a time, each built in C from UTF-32 (joining chr()s took twice as long;
    all of Unicode at once, 14 MB more of RSS)."""
    codec = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"
    plane = 1 << 16
    codes = [
        ord(ch)
        for start in range(0, sys.maxunicode + 1, plane)
        for ch in re.findall(
            r"\d",
            array.array("I", range(start, start + plane)).tobytes().decode(codec, "surrogatepass"),
        )
    ]
    ranges: list[str] = []
    start = previous = codes[0]
    for code in codes[1:] + [-1]:
        if code != previous + 1:
            ranges.append(_range(start, previous))
            start = code
        previous = code
    return "".join(ranges)


def _range(start: int, end: int) -> str:
    return chr(start) if start == end else f"{chr(start)}-{chr(end)}"


def literal(value: str) -> str:
    """A constant as an SQL string literal (E'' when it holds control characters)."""
    if re.search(r"[\x00-\x1f\\']", value):
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        escaped = re.sub(r"[\x00-\x1f]", lambda m: f"\\x{ord(m.group()):02x}", escaped)
        return f"E'{escaped}'"
    return f"'{value}'"
