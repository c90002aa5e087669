"""moto's TransactWriteItems without a copy of every table it names.

DynamoDB commits or cancels a transaction on its items alone. moto 5.2.5 keeps a rollback by
deep-copying each table a transaction names, once per transaction item: with a job's 1,200
one-row chunks in the job table, every claim, close and adoption copied the whole table two or
three times (seconds a transaction, gigabytes of garbage), which no deployed stack pays. Here
the same rollback copies only the items the transaction names, once per table; the rest of the
table is shared, as no write of the transaction can reach it.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from typing import Any

_lock = threading.Lock()
_installed = False
_local = threading.local()  # the keys the running transaction names, by table


class _CopyInTransactions:
    """Stands for the ``copy`` module inside moto's DynamoDB backend: a table copied for a
    transaction's rollback is copied light; every other copy is a real one."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        touched = getattr(_local, "touched", None)
        if touched is not None and isinstance(value, Table):
            # moto backs a table up once per transaction item, all before the first write: one
            # copy per table is the same rollback (25 updates of one table, 25 copies saved).
            saved: dict[str, Any] = _local.saved
            if value.name not in saved:
                saved[value.name] = _rollback_copy(value, touched.get(value.name, []))
            return saved[value.name]
        return copy.deepcopy(value, memo)


def _rollback_copy(table: Any, keys: list[tuple[Any, Any]]) -> Any:
    """The table as a rollback needs it: its own item maps, the named items deep-copied."""
    saved = copy.copy(table)
    if table.range_key_attr:
        saved.items = defaultdict(dict, {h: dict(ranges) for h, ranges in table.items.items()})
    else:
        saved.items = defaultdict(dict, table.items)
    for hash_value, range_value in keys:
        if table.range_key_attr:
            item = table.items.get(hash_value, {}).get(range_value)
            if item is not None:
                saved.items[hash_value][range_value] = copy.deepcopy(item)
        elif hash_value in table.items:
            saved.items[hash_value] = copy.deepcopy(table.items[hash_value])
    return saved


def _named_keys(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    named: dict[str, list[Any]] = defaultdict(list)
    for entry in transact_items:
        operation: dict[str, Any] = next(iter(entry.values()), {})
        table = backend.tables.get(operation.get("TableName"))
        key = operation.get("Key") or operation.get("Item") or {}
        if table is None or table.hash_key_attr not in key:
            continue
        hash_value = DynamoType(key[table.hash_key_attr])
        range_attr = table.range_key_attr
        range_value = DynamoType(key[range_attr]) if range_attr and range_attr in key else None
        named[table.name].append((hash_value, range_value))
    return named


def install() -> None:
    """Idempotent; patches moto's DynamoDB backend in this process (moto 5.2.5's code)."""
    global _installed
    with _lock:
        if _installed:
            return
        import moto.dynamodb.models as backend_module
        from moto.dynamodb.models import DynamoDBBackend

        original = DynamoDBBackend.transact_write_items

        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            _local.touched = _named_keys(self, transact_items)
            _local.saved = {}
            try:
                original(self, transact_items)
            finally:
                _local.touched = None
                _local.saved = {}

        setattr(backend_module, "copy", _CopyInTransactions())  # noqa: B010 - a module global
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _installed = True
