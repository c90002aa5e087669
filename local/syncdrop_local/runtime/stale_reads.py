"""DynamoDB's eventually consistent reads, in front of moto: items as they were a moment ago.

moto answers every read with the latest state. DynamoDB answers a read without
``ConsistentRead`` from any replica, which may not have seen a write of the last second, and a
global secondary index is always updated after its table. ``ItemHistory`` keeps, for items
written in the last few seconds, the image each write replaced (read from moto under the lock
that serialises it); the functions below turn moto's exact answer into the one a lagging replica
would give at a chosen moment.

Approximations, each on the side of fewer surprises rather than more:
- A Query's items are rebuilt from moto's page: recently written items are replaced by their
  old image (or dropped, or added when only the old image matches), ordered by the index's sort
  key, and cut to ``Limit``. ``Limit`` is applied after the filter here (DynamoDB applies it
  before), and an old image is added to a page only inside the range moto's page covers.
- Reads with ``ProjectionExpression``, ``AttributesToGet``, ``Select`` or the legacy
  ``KeyConditions`` are answered exactly; so is Scan (tests read whole tables with it).
- History starts when the knobs are turned on: a write made before is seen as it is.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")

Image = dict[str, Any]  # an item in DynamoDB's wire format: {"name": {"S": "value"}, ...}
Exactly = ("ProjectionExpression", "AttributesToGet", "Select", "KeyConditions")


def moto_table(region: str | None, name: str) -> Any:
    """moto's table object called ``name`` (in ``region`` when several accounts have one)."""
    from moto.dynamodb.models import dynamodb_backends

    found = None
    for account in list(dict.values(dynamodb_backends)):
        for backend_region, backend in list(dict.items(account)):
            table = backend.tables.get(name)
            if table is not None and (found is None or backend_region == region):
                found = table
    return found


def _key_names(table: Any) -> tuple[str, ...]:
    return tuple(n for n in (table.hash_key_attr, table.range_key_attr) if n)


def key_json(table: Any, item: Image) -> str:
    """The item's identity in its table: its key attributes as canonical JSON."""
    return json.dumps({n: item.get(n) for n in _key_names(table)}, sort_keys=True)


def current_image(table: Any, key: Image) -> Image | None:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import dynamo_json_dump

    hash_name, range_name = table.hash_key_attr, table.range_key_attr
    if hash_name not in key or (range_name and range_name not in key):
        return None
    item = table.get_item(
        DynamoType(key[hash_name]), DynamoType(key[range_name]) if range_name else None
    )
    if item is None:
        return None
    image: Image = json.loads(dynamo_json_dump(dict(item.attrs)))
    return image


def written_keys(operation: str, request: dict[str, Any]) -> list[tuple[str, Image]]:
    """(table, key or whole item) of every item a write request may change."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return [(request["TableName"], request.get("Key") or request.get("Item") or {})]
    if operation == "TransactWriteItems":
        specs = [next(iter(a.values())) for a in request.get("TransactItems", [])]
        return [(s["TableName"], s.get("Key") or s.get("Item") or {}) for s in specs]
    if operation == "BatchWriteItem":
        return [
            (name, w.get("PutRequest", {}).get("Item") or w.get("DeleteRequest", {}).get("Key"))
            for name, writes in request.get("RequestItems", {}).items()
            for w in writes
        ]
    return []


class ItemHistory:
    """For each recently written item, the image each of its writes replaced (None: absent)."""

    def __init__(self) -> None:
        self._versions: dict[str, dict[str, deque[tuple[float, Image | None]]]] = {}
        self._order: deque[tuple[float, str, str]] = deque()  # every version, oldest first

    def record_write(
        self,
        operation: str,
        request: dict[str, Any],
        region: str | None,
        run: Callable[[], T],
        *,
        now: float,
        keep_for: float,
    ) -> T:
        """Run the write (under moto's lock) and remember what it replaced."""
        before: dict[tuple[str, str], tuple[Any, Image, Image | None]] = {}
        for name, key in written_keys(operation, request):
            table = moto_table(region, name)
            if table is not None and key:
                before[(name, key_json(table, key))] = (table, key, current_image(table, key))
        answer = run()
        for (name, ref), (table, key, old) in before.items():
            if current_image(table, key) != old:
                self._versions.setdefault(name, {}).setdefault(ref, deque()).append((now, old))
                self._order.append((now, name, ref))
        self.forget_before(now - keep_for)
        return answer

    def forget_before(self, moment: float) -> None:
        while self._order and self._order[0][0] < moment:
            _, name, ref = self._order.popleft()
            versions = self._versions[name][ref]
            versions.popleft()
            if not versions:
                del self._versions[name][ref]

    def as_of(self, table: str, moment: float) -> dict[str, Image | None]:
        """Items of ``table`` written after ``moment``, each with its image at ``moment``."""
        changed: dict[str, Image | None] = {}
        for ref, versions in self._versions.get(table, {}).items():
            for at, image in versions:
                if at > moment:
                    changed[ref] = image  # the image the first later write replaced
                    break
        return changed


def stale_get_item(request: dict[str, Any], table: Any, changed: dict[str, Image | None]) -> Any:
    """GetItem's answer at the moment ``changed`` was taken, or None when moto's is the same."""
    if any(name in request for name in Exactly):
        return None
    ref = key_json(table, request.get("Key", {}))
    if ref not in changed:
        return None
    image = changed[ref]
    return {} if image is None else {"Item": image}


def stale_batch_get(
    request: dict[str, Any],
    answer: dict[str, Any],
    tables: dict[str, tuple[Any, dict[str, Image | None]]],
) -> bool:
    """Rewrite BatchGetItem's ``answer`` in place for each table in ``tables`` (name -> moto
    table, its changed items); True when something was different."""
    different = False
    for name, (table, changed) in tables.items():
        spec = request.get("RequestItems", {}).get(name, {})
        if any(n in spec for n in Exactly):
            continue
        wanted = {key_json(table, key) for key in spec.get("Keys", [])}
        stale = wanted & changed.keys()
        if not stale:
            continue
        found = answer.setdefault("Responses", {}).get(name, [])
        kept = [item for item in found if key_json(table, item) not in stale]
        kept.extend(image for ref in sorted(stale) if (image := changed[ref]) is not None)
        answer["Responses"][name] = kept
        different = True
    return different


def _order(value: dict[str, Any] | None) -> tuple[int, Any]:
    """DynamoDB's sort order of one key value: numbers by value, strings and binary by bytes."""
    if not value:
        return (0, b"")
    ((kind, raw),) = value.items()
    if kind == "N":
        return (1, Decimal(raw))
    if kind == "B":
        return (2, base64.b64decode(raw))
    return (2, str(raw).encode())


def stale_query(
    request: dict[str, Any], answer: dict[str, Any], table: Any, changed: dict[str, Image | None]
) -> dict[str, Any] | None:
    """Query's answer as a replica would give it with ``changed`` items at their old images;
    None when it would be moto's own."""
    if not changed or any(name in request for name in Exactly) or "Items" not in answer:
        return None
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    names = request.get("ExpressionAttributeNames")
    values = request.get("ExpressionAttributeValues")
    index = next((i for i in table.all_indexes() if i.name == request.get("IndexName")), None)
    schema = index.schema if index is not None else table.schema
    index_keys = [k["AttributeName"] for k in schema]
    sort_key = next((k["AttributeName"] for k in schema if k["KeyType"] == "RANGE"), None)
    conditions = [get_filter_expression(request["KeyConditionExpression"], names, values)]
    if request.get("FilterExpression"):
        conditions.append(get_filter_expression(request["FilterExpression"], names, values))

    def as_item(image: Image) -> Any:
        hash_name, range_name = table.hash_key_attr, table.range_key_attr
        return Item(
            DynamoType(image[hash_name]),
            DynamoType(image[range_name]) if range_name else None,
            image,
        )

    def matches(image: Image) -> bool:
        if any(name not in image for name in index_keys):  # a sparse index leaves it out
            return False
        item = as_item(image)
        return all(condition.expr(item) for condition in conditions)

    def position(item: Image) -> tuple[tuple[int, Any], str]:
        return _order(item.get(sort_key) if sort_key else None), key_json(table, item)

    forward = request.get("ScanIndexForward", True)
    items = [i for i in answer["Items"] if key_json(table, i) not in changed]
    added = [image for image in changed.values() if image is not None and matches(image)]
    if index is not None:
        added = [
            json.loads(json.dumps(index.project(as_item(image)).to_json()["Attributes"]))
            for image in added
        ]

    def before(a: Image, b: Image) -> bool:
        """``a`` comes before ``b`` in the order this Query reads."""
        return position(a) < position(b) if forward else position(a) > position(b)

    if "ExclusiveStartKey" in request:  # only what this page may hold
        added = [i for i in added if before(request["ExclusiveStartKey"], i)]
    if "LastEvaluatedKey" in answer:
        added = [i for i in added if not before(answer["LastEvaluatedKey"], i)]
    if len(items) == len(answer["Items"]) and not added:
        return None
    rebuilt = sorted(items + added, key=position, reverse=not forward)
    stale = dict(answer)
    limit = request.get("Limit")
    if limit is not None and len(rebuilt) > int(limit):
        rebuilt = rebuilt[: int(limit)]
        last = rebuilt[-1]
        stale["LastEvaluatedKey"] = {
            n: last[n] for n in (*_key_names(table), *index_keys) if n in last
        }
    stale["Items"] = rebuilt
    stale["Count"] = len(rebuilt)
    filtered_out = answer.get("ScannedCount", 0) - len(answer["Items"])
    stale["ScannedCount"] = max(0, filtered_out) + len(rebuilt)
    return stale
