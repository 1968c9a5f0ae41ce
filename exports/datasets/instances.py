"""Model instances for display mode, built the cheap way where that changes nothing.

Django's ModelIterable builds each instance (and each select_related one) through
Model.__init__, which walks every field, sends pre_init/post_init and sets each value through
setattr; for a changelist of four joined models that was a third of display mode's time. Where
a model leaves all of that as Django wrote it (no __init__ or from_db of its own, no init
signal receivers, plain field descriptors), an instance is the same object built directly:
its field values in __dict__ and a fresh ModelState, as from_db() leaves it. Anything else,
and any query this module does not read the same way as Django (prefetches, known related
objects, Django 6.1's fetch modes), goes through Django's own iterator.

On PostgreSQL the rows come from a server-side cursor of Django's whose `timestamptz` values
are parsed by psycopg's C loader (fast_timestamps), not by the Python loader Django registers
to give them its time zone: the same datetimes, at a fraction of the CPU.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import models
from django.db.models.base import ModelState
from django.db.models.query import get_related_populators
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init
from django.db.models.sql.compiler import SQLCompiler, cursor_iter

Build = Callable[[Sequence[Any]], models.Model]
MISSING = object()


def instances(queryset: models.QuerySet, chunk_size: int) -> Iterator[models.Model]:
    """queryset.iterator(chunk_size)'s instances, built directly where plain_model() allows."""
    if not direct(queryset):
        yield from queryset.iterator(chunk_size)
        return
    db = queryset.db
    compiler = queryset.query.get_compiler(using=db)
    results = fetched(compiler, chunk_size)
    klass_info, select = compiler.klass_info, compiler.select
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    build = builder(klass_info["model"], db, [f[0].target.attname for f in select[start:end]])
    fill = filler(get_related_populators(klass_info, select, db), db)
    annotations = list(compiler.annotation_col_map.items())
    for row in compiler.results_iter(results):
        obj = build(row[start:end])
        fill(row, obj)
        for name, position in annotations:
            setattr(obj, name, row[position])
        yield obj


def fetched(compiler: SQLCompiler, chunk_size: int) -> Iterator[list[Any]]:
    """compiler.execute_sql(chunked_fetch=True)'s chunks of rows; on PostgreSQL from a cursor
    whose timestamptz loader is psycopg's C one where that loads the same values."""
    connection = compiler.connection
    if connection.vendor != "postgresql" or not connection.features.can_use_chunked_reads:
        return compiler.execute_sql(chunked_fetch=True, chunk_size=chunk_size)
    try:
        sql, params = compiler.as_sql()
        if not sql:
            raise EmptyResultSet
    except EmptyResultSet:
        return iter([])
    cursor = connection.chunked_cursor()
    try:
        fast_timestamps(cursor.cursor)
        cursor.execute(sql, params)
    except Exception:
        cursor.close()
        raise
    empty = connection.features.empty_fetchmany_value
    col_count = compiler.col_count if compiler.has_extra_select else None
    return cursor_iter(cursor, empty, col_count, chunk_size)


def fast_timestamps(cursor: Any) -> None:
    """On this psycopg cursor only, timestamptz text parsed in C. Django's loader (kept on the
    connection, which Django checks for every cursor it opens) is psycopg's Python parser plus
    .replace(tzinfo=its zone): the C loader already gives that zone when it is the session's
    (UTC with USE_TZ, the usual case); any other zone (USE_TZ = False: none) is put on each
    value after the C parse, as Django's loader does."""
    try:
        from psycopg import adapt, adapters, pq
        from psycopg.postgres import types
    except ImportError:  # psycopg2: Django's own loading
        return
    if not hasattr(cursor, "adapters"):
        return
    oid = types["timestamptz"].oid
    django_loader = cursor.adapters.get_loader(oid, pq.Format.TEXT)
    zone = getattr(django_loader, "timezone", MISSING)
    fast = adapters.get_loader(oid, pq.Format.TEXT)
    if zone is MISSING or fast is None or fast.__module__.startswith("psycopg."):
        return  # not Django's loader, or no C implementation installed: left as it is
    if zone is cursor.connection.info.timezone:
        cursor.adapters.register_loader(oid, fast)
        return

    class Zoned(adapt.Loader):
        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self.parse = fast(oid, context).load

        def load(self, data: Any) -> Any:
            return self.parse(data).replace(tzinfo=zone)

    cursor.adapters.register_loader(oid, Zoned)


def direct(queryset: models.QuerySet) -> bool:
    """What ModelIterable does beyond instances and select_related: left to it."""
    return (
        not queryset._prefetch_related_lookups
        and not queryset._known_related_objects
        and not hasattr(queryset, "_fetch_mode")  # Django 6.1: peers, fetch modes
        and queryset._iterable_class.__name__ == "ModelIterable"
    )


def filler(populators: list[Any], db: str) -> Callable[[Sequence[Any], models.Model], None]:
    """RelatedPopulator.populate() for each select_related model, with direct instances."""
    steps = []
    for populator in populators:
        if populator.reorder_for_init is not None:  # a parent model's columns: Django's way
            steps.append(populator.populate)
            continue
        steps.append(related_step(populator, db))

    def fill(row: Sequence[Any], obj: models.Model) -> None:
        for step in steps:
            step(row, obj)

    return fill


def related_step(populator: Any, db: str) -> Callable[[Sequence[Any], models.Model], None]:
    start, end, key = populator.cols_start, populator.cols_end, populator.pk_idx
    build = builder(populator.model_cls, db, populator.init_list)
    fill = filler(populator.related_populators, db)
    local, remote = populator.local_setter, populator.remote_setter

    def step(row: Sequence[Any], from_obj: models.Model) -> None:
        data = row[start:end]
        if data[key] is None:
            local(from_obj, None)
            return
        obj = build(data)
        fill(row, obj)
        local(from_obj, obj)
        remote(obj, from_obj)

    return step


def builder(model: type[models.Model], db: str, names: Sequence[str]) -> Build:
    """A function(values) -> instance, as model.from_db(db, names, values) builds it."""
    if not plain_model(model, names):
        return lambda values: model.from_db(db, names, values)
    names = tuple(names)
    new = object.__new__

    def build(values: Sequence[Any]) -> models.Model:
        obj = new(model)
        state = ModelState()
        state.adding = False
        state.db = db
        fields = obj.__dict__
        fields["_state"] = state
        fields.update(zip(names, values, strict=False))  # as many: the compiler's select
        return obj

    return build


def plain_model(model: type[models.Model], names: Sequence[str]) -> bool:
    """Model.__init__ would do nothing here but store the values: Django's own __init__ and
    from_db, nobody listening for init signals, and plain descriptors on every field read."""
    if model.__init__ is not models.Model.__init__:
        return False
    if model.from_db.__func__ is not models.Model.from_db.__func__:  # type: ignore[attr-defined]
        return False
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return False
    return all(type(class_attribute(model, name)) in plain_types() for name in names)


def plain_types() -> tuple[type, ...]:
    from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute

    return (DeferredAttribute, ForeignKeyDeferredAttribute)


def class_attribute(model: type, name: str) -> Any:
    for klass in model.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None
