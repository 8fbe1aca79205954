"""Inserting many new rows of one model fast: `COPY` on PostgreSQL (a few rows: `INSERT`s sent
together), one `executemany` on SQLite.

Django's `bulk_create` compiles every value of every row through the ORM (and, on PostgreSQL,
sends them as arrays that psycopg dumps in Python); the capture engine writes about seven rows
a lead, so it uses `rows_insert` instead. Ids are drawn beforehand — from the table's sequence on
PostgreSQL, after the largest id under the write lock on SQLite — and set on the instances, so
they can be used at once as `bulk_create` would leave them; on PostgreSQL `rows_ahead` draws
them and formats the rows as `COPY` sends them before the writer takes its locks. No signals
are sent, no `save()` runs: only for plain new rows whose every value is already set.
`instance` makes such rows cheaply; `row_insert` stores one of them with a single statement (a
webhook's delivery).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from operator import itemgetter

import orjson
from django.db import connection, transaction
from django.db.models import Field, JSONField, Model
from django.db.models.base import ModelState
from psycopg.copy import Copy, FileWriter

from leadloop.core.joined import sent_together

# Field types whose Python value the database driver takes as it is.
PLAIN = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "EmailField",
    "ForeignKey",
    "IntegerField",
    "OneToOneField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SlugField",
    "SmallIntegerField",
    "TextField",
    "URLField",
}
PLAIN_ON_POSTGRESQL = PLAIN | {"DateTimeField", "DateField"}
COPY_FROM = 4  # rows of one model from which PostgreSQL gets them by COPY (fewer: one INSERT)


@dataclass(frozen=True)
class _Table:
    """How one model's instances become rows for one database vendor."""

    columns: list[str]
    pk: int  # the position of the primary key's column
    values: Callable[[dict], tuple]  # the instance's values (from its __dict__) in column order
    relations: list[tuple[str, str]]  # (cache name, attname) of each foreign key
    converted: list[tuple[int, Callable]]  # (position, its conversion) of non-plain values

    @classmethod
    @cache
    def of(cls, model: type[Model], vendor: str) -> _Table:
        plain = PLAIN_ON_POSTGRESQL if vendor == "postgresql" else PLAIN
        fields = model._meta.concrete_fields
        converted = []
        for position, field in enumerate(fields):
            if isinstance(field, JSONField):
                dumps = _jsonb if vendor == "postgresql" else _json
                converted.append((position, partial(dumps, encoder=field.encoder)))
            elif vendor == "sqlite" and field.get_internal_type() == "DateTimeField":
                converted.append((position, partial(_sqlite_datetime, field=field)))
            elif field.get_internal_type() not in plain:
                converted.append((position, partial(field.get_db_prep_save, connection=connection)))
        return cls(
            columns=[field.column for field in fields],
            pk=fields.index(model._meta.pk),
            values=itemgetter(*(field.attname for field in fields)),
            relations=[(field.cache_name, field.attname) for field in fields if field.is_relation],
            converted=converted,
        )

    def row(self, obj: Model) -> tuple | list:
        """Read off the instance's dict: the descriptors' checks cost more than the copy."""
        state = obj.__dict__
        cached = obj._state.fields_cache
        for name, attname in self.relations:
            if state[attname] is None and (related := cached.get(name)) is not None:
                state[attname] = related.pk  # saved after it was assigned here
        values = self.values(state)
        if not self.converted:
            return values
        values = list(values)
        for position, convert in self.converted:
            values[position] = convert(values[position])
        return values


def _sqlite_datetime(value: datetime | None, field: Field) -> str | None:
    """What Django stores for an aware datetime on SQLite (UTC text), without its checks."""
    if value is None:
        return None
    if value.tzinfo is None:  # naive: Django's own warning and conversion
        return field.get_db_prep_save(value, connection=connection)
    if value.tzinfo is UTC:  # the clock's own: the same text without its "+00:00", at half the CPU
        return value.isoformat(" ")[:-6]
    return str(value.astimezone(UTC).replace(tzinfo=None))


def _json(value, encoder=None) -> str | None:
    """The JSON text Django would store: on SQLite an exact lookup compares the text itself."""
    if value is None:
        return None
    return "{}" if value == {} else json.dumps(value, cls=encoder)  # most are empty


def _jsonb(value, encoder=None) -> str | None:
    """JSON for PostgreSQL's jsonb (which keeps no text) with orjson, at about a fifth of the
    CPU of `json.dumps`: five values a row were a tenth of a capture's writing."""
    if value is None or value == {} or encoder is not None:
        return _json(value, encoder)
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # what orjson refuses (an integer past 64 bits): as Django does
        return _json(value)


@dataclass(frozen=True)
class _Blank:
    """What a new instance of one model holds before its values are set."""

    fields: dict[str, tuple[str, str]]  # name or attname -> (attname, cache name of a relation
    #                                      given as an instance, else "")
    defaults: dict[str, object]  # attname -> default, for defaults that are not callables
    made: list[tuple[str, Callable]]  # (attname, callable default)

    @classmethod
    @cache
    def of(cls, model: type[Model]) -> _Blank:
        fields, defaults, made = {}, {}, []
        for field in model._meta.concrete_fields:
            fields[field.attname] = (field.attname, "")
            fields[field.name] = (field.attname, field.cache_name if field.is_relation else "")
            if field.has_default() and callable(field.default):
                made.append((field.attname, field.default))
            else:
                defaults[field.attname] = field.get_default()
        return cls(fields, defaults, made)


def instance(model: type[Model], **values) -> Model:
    """`model(**values)` for the capture engine's many new rows, at a fraction of the cost.

    Django's constructor routes every related instance through its descriptor's checks (about
    a quarter of a bulk capture's CPU); here a related instance is cached as the descriptor
    would and its id read when the row is written. Only concrete fields are accepted.
    """
    blank = _Blank.of(model)
    obj = model.__new__(model)
    state = obj.__dict__
    state.update(blank.defaults)
    state["_state"] = model_state = ModelState()
    model_state.fields_cache = cached = {}  # what its descriptor would make on first use
    for attname, default in blank.made:
        state[attname] = default()
    fields = blank.fields
    for name, value in values.items():
        attname, relation = fields[name]
        if relation:
            cached[relation] = value
            value = None if value is None else value.pk
        state[attname] = value
    return obj


def relate(obj: Model, name: str, value: Model | None) -> None:
    """Set `obj`'s relation `name` to `value` (saved) as its descriptor would, without its
    checks (the same as `instance` does for the relations it is given)."""
    attname, cache_name = _Blank.of(type(obj)).fields[name]
    obj.__dict__[attname] = None if value is None else value.pk
    obj._state.fields_cache[cache_name] = value


def related(obj: Model, name: str) -> Model | None:
    """The instance set as `obj`'s relation `name` (by `instance`, or its descriptor), read
    without the descriptor's checks: for the capture engine's loops over a batch's rows."""
    return obj._state.fields_cache[name]


@cache
def _sequence(table: str, pk: str) -> str:
    """The name of the sequence behind a table's id (the same in every database of one schema);
    asked once, as PostgreSQL would look it up again for every id drawn."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, pk])
        return cursor.fetchone()[0]


def _new_ids(groups: list[Sequence[Model]]) -> list[list[int]]:
    """Ids for each group's new rows (one model a group), in one statement."""
    models = [(type(objs[0])._meta, len(objs)) for objs in groups]
    assert len({meta for meta, _n in models}) == len(models), "one group a model"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            draws = " UNION ALL ".join(
                f"SELECT {i}, nextval(%s::regclass) FROM generate_series(1, %s)"
                for i in range(len(models))
            )
            params = [
                p for meta, n in models for p in (_sequence(meta.db_table, meta.pk.column), n)
            ]
            cursor.execute(draws, params)
            ids: list[list[int]] = [[] for _group in groups]
            for group, new_id in cursor.fetchall():
                ids[group].append(new_id)
            return [sorted(group) for group in ids]
        quote = connection.ops.quote_name
        lasts = ", ".join(
            f"max(coalesce((SELECT max({meta.pk.column}) FROM {quote(meta.db_table)}), 0),"
            " coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))"
            for meta, _n in models
        )
        cursor.execute(f"SELECT {lasts}", [meta.db_table for meta, _n in models])
        row = cursor.fetchone()
    return [
        list(range(last + 1, last + 1 + n)) for last, (_meta, n) in zip(row, models, strict=True)
    ]


# id() of an instance -> (the instance, its row as a line of `COPY` text); holding the instance
# keeps its id() from being given to another object meanwhile
Ready = dict[int, tuple[Model, bytes]]


def rows_ahead(read: Sequence[Sequence[Model]], ids_only: Sequence[Sequence[Model]]) -> Ready:
    """Draw the ids of these new instances now and make the rows of those in `read` ready as
    they stand (their values must not change after), for `rows_insert(…, ready=…)`: a writer
    that does so before it takes its locks holds them for less time. A row is made ready as the
    line `COPY` will send, so that the writer only sends it. Only on PostgreSQL, whose ids come
    from sequences; on SQLite they follow the largest id stored, so they are drawn as the rows
    are written."""
    if connection.vendor != "postgresql":
        return {}
    _ids_draw([objs for objs in (*read, *ids_only) if objs])
    ready = {}
    for objs in filter(None, read):
        lines = _copy_lines(_Table.of(type(objs[0]), connection.vendor), objs)
        ready |= {id(obj): (obj, line) for obj, line in zip(objs, lines, strict=True)}
    return ready


def _copy_lines(table: _Table, objs: Sequence[Model]) -> list[bytes]:
    """The instances' rows as `COPY` text lines, by psycopg's own formatting, without sending
    them: its file writer collects them. A line ends with a newline, the only one in it (the
    text format writes a newline in a value as `\\n`)."""
    collected = io.BytesIO()
    with (
        connection.connection.cursor() as cursor,
        Copy(cursor, writer=FileWriter(collected)) as copy,
    ):
        for obj in objs:
            copy.write_row(table.row(obj))
    return collected.getvalue().splitlines(keepends=True)


def rows_insert(*groups: Sequence[Model], ready: Ready | None = None) -> Sequence[Model]:
    """Insert new instances in this transaction, each group of one model; their ids are set
    (all of them before any row is written, so rows may refer to rows of a later group). Ids
    already set are kept: drawn by `rows_ahead`, or by an attempt rolled back to a savepoint
    (on SQLite the transaction holds the write lock throughout, so no other writer took them
    meanwhile). Returns the first group."""
    assert transaction.get_connection().in_atomic_block, "rows_insert runs in a transaction"
    filled = [objs for objs in groups if objs]
    _ids_draw(filled)
    ready = ready or {}
    if few := [objs for objs in filled if not _by_copy(objs)]:
        with sent_together():  # a single lead writes six rows to six tables: one wait for all
            for objs in few:
                _insert(objs)
    for objs in filled:
        if _by_copy(objs):
            _copy(objs, ready)
    return groups[0] if groups else []


def _by_copy(objs: Sequence[Model]) -> bool:
    return connection.vendor == "postgresql" and len(objs) >= COPY_FROM


def _ids_draw(groups: Sequence[Sequence[Model]]) -> None:
    """Ids for the instances of these (non-empty) groups that have none yet, in one statement."""
    pending = []
    for objs in groups:
        pk = objs[0]._meta.pk.attname
        if without := [obj for obj in objs if obj.__dict__[pk] is None]:
            pending.append((pk, without))
    if not pending:
        return
    alias = connection.alias
    drawn = _new_ids([objs for _pk, objs in pending])
    for (pk, objs), new_ids in zip(pending, drawn, strict=True):
        for obj, new_id in zip(objs, new_ids, strict=True):
            obj.__dict__[pk] = new_id
            obj._state.adding, obj._state.db = False, alias


def _rows(objs: Sequence[Model]) -> tuple[_Table, str, list[str]]:
    """The model's table, its quoted name and quoted columns."""
    model = type(objs[0])
    quote = connection.ops.quote_name
    table = _Table.of(model, connection.vendor)
    return table, quote(model._meta.db_table), [quote(column) for column in table.columns]


def _insert(objs: Sequence[Model]) -> None:
    table, name, columns = _rows(objs)
    rows = [table.row(obj) for obj in objs]
    insert = f"INSERT INTO {name} ({', '.join(columns)}) VALUES "
    marks = f"({', '.join('%s' for _column in columns)})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one statement: PostgreSQL plans each (few rows)
            cursor.execute(
                insert + ", ".join([marks] * len(rows)), [v for row in rows for v in row]
            )
        else:  # SQLite runs one prepared statement for each row
            cursor.executemany(insert + marks, rows)


def _copy(objs: Sequence[Model], ready: Ready) -> None:
    """The rows made ready ahead are sent as they are, the others formatted here (the order of
    a `COPY`'s rows does not matter)."""
    table, name, columns = _rows(objs)
    lines = [ready[id(obj)][1] for obj in objs if id(obj) in ready]
    rest = [obj for obj in objs if id(obj) not in ready] if len(lines) < len(objs) else []
    with connection.cursor() as cursor:
        copying = cursor.cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN")
        with connection.wrap_database_errors, copying as copy:  # IntegrityError as Django's
            if lines:
                copy.write(b"".join(lines))
            for obj in rest:
                copy.write_row(table.row(obj))


def row_insert(obj: Model) -> Model:
    """Insert one new instance with a single `INSERT … RETURNING` (no transaction of its own:
    in autocommit it is stored when this returns); its id is set. As for `rows_insert`, no
    signals, no `save()`: a webhook's delivery is stored this way before it is answered."""
    table = _Table.of(type(obj), connection.vendor)
    values = list(table.row(obj))
    del values[table.pk]
    with connection.cursor() as cursor:
        cursor.execute(_insert_returning(type(obj), connection.vendor), values)
        obj.__dict__[obj._meta.pk.attname] = cursor.fetchone()[0]
    obj._state.adding, obj._state.db = False, connection.alias
    return obj


@cache
def _insert_returning(model: type[Model], vendor: str) -> str:
    quote = connection.ops.quote_name
    table = _Table.of(model, vendor)
    columns = [column for position, column in enumerate(table.columns) if position != table.pk]
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(map(quote, columns))})"
        f" VALUES ({', '.join('%s' for _column in columns)})"
        f" RETURNING {quote(table.columns[table.pk])}"
    )
