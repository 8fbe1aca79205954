"""Hot lookups without the query compiler: one hand-written join, instances built as the ORM would.

Compiling a queryset with `select_related` costs the web process about two milliseconds of CPU,
ten times what the database takes to answer a lookup by key. The lookups made for every request
or delivery (an API token, a webhook's channel, a delivery task's delivery) read their rows here:
the SQL is written once, each model's columns converted with the converters the ORM applies,
and the instances made by `Model.from_db`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from itertools import product

import psycopg
from django.db import connection
from django.db.models import Model
from psycopg.errors import PipelineAborted


@dataclass(frozen=True)
class Columns:
    """All the concrete columns of one model under a table alias, and how to read them back."""

    model: type[Model]
    alias: str
    select: str  # `alias.column, …` in field order
    width: int
    pk_position: int
    converters: tuple[tuple[int, object, tuple], ...]  # (position, column expression, converters)

    @classmethod
    @cache
    def of(cls, model: type[Model], alias: str, vendor: str) -> Columns:
        quote = connection.ops.quote_name
        fields = model._meta.concrete_fields
        converters = []
        for position, field in enumerate(fields):
            col = field.get_col(alias)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                converters.append((position, col, tuple(found)))
        select = ", ".join(f"{alias}.{quote(field.column)}" for field in fields)
        pk_position = fields.index(model._meta.pk)
        return cls(model, alias, select, len(fields), pk_position, tuple(converters))

    def build(self, values: Sequence) -> Model | None:
        """The instance these values make; None for the NULL row of a LEFT JOIN."""
        values = list(values)
        if values[self.pk_position] is None:
            return None
        for position, col, converters in self.converters:
            for convert in converters:
                values[position] = convert(values[position], col, connection)
        return self.model.from_db(connection.alias, None, values)


def _columns(model: type[Model], alias: str) -> Columns:
    return Columns.of(model, alias, connection.vendor)


@cache
def _sql(template: str, models: tuple[tuple[str, type[Model]], ...], vendor: str) -> str:
    select = ", ".join(_columns(model, alias).select for alias, model in models)
    quote = connection.ops.quote_name
    tables = {alias: f"{quote(model._meta.db_table)} {alias}" for alias, model in models}
    return template.format(select=select, **tables)


def fetch_joined(
    template: str, params: Sequence, leading: int = 0, **models: type[Model]
) -> list[tuple]:
    """Instances of `models` (by table alias, in select order), one tuple per row.

    `template` writes `{select}` for the select list and `{alias}` for each table with its
    alias: "SELECT {select} FROM {t} JOIN {w} ON w.id = t.workspace_id WHERE t.prefix = %s".
    A model a LEFT JOIN found nothing for comes back as None. Each instance's foreign keys to
    the row's other instances are set to them, so following them costs no query. `leading`
    plain values selected before `{select}` come first in each tuple, as they are.
    """
    return fetch_joined_later(template, params, leading, **models).rows()


@dataclass
class Pending:
    """A read sent to the database whose rows are read later (see `sent_together`)."""

    cursor: object | None
    parts: list[Columns]
    leading: int

    def rows(self) -> list[tuple]:
        if self.cursor is None:
            return []
        with self.cursor as cursor:
            rows = cursor.fetchall()
        found = []
        for row in rows:
            start, instances = self.leading, []
            for part in self.parts:
                instances.append(part.build(row[start : start + part.width]))
                start += part.width
            _link(instances)
            found.append((*row[: self.leading], *instances))
        return found


NOTHING = Pending(None, [], 0)  # a read not worth sending: no rows


def fetch_joined_later(
    template: str, params: Sequence, leading: int = 0, **models: type[Model]
) -> Pending:
    """`fetch_joined`, its rows read by `.rows()`: inside `sent_together()`, the reads sent
    one after another are answered together."""
    parts = [_columns(model, alias) for alias, model in models.items()]
    cursor = connection.cursor()
    try:
        cursor.execute(_sql(template, tuple(models.items()), connection.vendor), params)
    except BaseException:
        cursor.close()
        raise
    return Pending(cursor, parts, leading)


@contextmanager
def sent_together():
    """PostgreSQL statements sent at once and answered at once (psycopg's pipeline mode), their
    errors raised as Django's; on SQLite (or with a libpq older than 14, which has no pipeline
    mode) each runs when sent. Every wait for the server costs both processes a wake-up, about
    0.1 ms of CPU in all: a single lead used to wait ~25 times.
    """
    if connection.vendor != "postgresql" or not psycopg.Pipeline.is_supported():
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, _own_error(), connection.connection.pipeline():
        yield


@contextmanager
def _own_error():
    """The failed statement's own error (an IntegrityError, a DataError: what callers handle),
    not psycopg's note that the statements after it were skipped, which may replace it."""
    try:
        yield
    except PipelineAborted as exc:
        if isinstance(cause := exc.__context__, psycopg.Error):
            raise cause from None
        raise


def any_of(column: str) -> str:
    """`column` is one of a list given as one parameter (`listed(values)`): the same SQL text
    whatever the list's length, so the statement is written once."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)"
    return f"{column} IN (SELECT value FROM json_each(%s))"


def listed(values: Collection) -> object:
    """The parameter of an `any_of` condition."""
    return list(values) if connection.vendor == "postgresql" else json.dumps(list(values))


def for_update(strength: str = "UPDATE") -> str:
    """The locking clause of a read whose rows stay locked to the end of the transaction
    (SQLite's transactions already hold the one write lock). `KEY SHARE` keeps the rows from
    being deleted, as a foreign-key check would."""
    return f" FOR {strength}" if connection.features.has_select_for_update else ""


def _link(instances: list[Model | None]) -> None:
    present = [obj for obj in instances if obj is not None]
    for obj in present:
        relations = [field for field in obj._meta.concrete_fields if field.is_relation]
        for field, other in product(relations, present):
            if isinstance(other, field.related_model) and other.pk == getattr(obj, field.attname):
                field.set_cached_value(obj, other)
