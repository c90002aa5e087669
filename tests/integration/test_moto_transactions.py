"""moto's transactions roll back from copies of the items they name, not of whole tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from syncdrop_local.runtime import moto_transactions

TABLE = "t"


@pytest.fixture
def db() -> Iterator[Any]:
    moto_transactions.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(300):
            client.put_item(
                TableName=TABLE,
                Item={"pk": {"S": "P"}, "sk": {"S": f"{n:04d}"}, "v": {"N": str(n)}},
            )
        yield client


def key(n: int) -> dict[str, Any]:
    return {"pk": {"S": "P"}, "sk": {"S": f"{n:04d}"}}


def add(n: int, condition: str = "attribute_exists(pk)") -> dict[str, Any]:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": key(n),
            "UpdateExpression": "ADD v :one",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def value(db: Any, n: int) -> int | None:
    item = db.get_item(TableName=TABLE, Key=key(n)).get("Item")
    return int(item["v"]["N"]) if item else None


def test_a_committed_transaction_writes_its_items(db) -> None:
    db.transact_write_items(TransactItems=[add(1), add(2)])
    assert (value(db, 1), value(db, 2), value(db, 3)) == (2, 3, 3)


def moto_item(n: int) -> Any:
    """The item object moto holds (not a copy of it)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = dynamodb_backends["123456789012"]["us-east-1"].tables[TABLE]
    return table.items[DynamoType({"S": "P"})][DynamoType({"S": f"{n:04d}"})]


def test_a_cancelled_transaction_leaves_every_item_as_it_was(db) -> None:
    untouched = moto_item(150)
    new = {"Put": {"TableName": TABLE, "Item": {**key(900), "v": {"N": "9"}}}}
    with pytest.raises(ClientError) as cancelled:
        db.transact_write_items(
            TransactItems=[add(5), new, add(6, condition="attribute_not_exists(pk)")]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert (value(db, 5), value(db, 6), value(db, 900)) == (5, 6, None)
    # The items it did not name are there, unchanged, and writable afterwards.
    assert [value(db, n) for n in (0, 150, 299)] == [0, 150, 299]
    # Restored from copies of the named items only: an item it did not name was never copied.
    assert moto_item(150) is untouched
    db.transact_write_items(TransactItems=[add(5), add(299)])
    assert (value(db, 5), value(db, 299)) == (6, 300)
    assert db.scan(TableName=TABLE, Select="COUNT")["Count"] == 300


def test_a_table_copy_outside_transactions_is_still_a_real_copy(db) -> None:
    import copy

    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends["123456789012"]["us-east-1"]
    table = backend.tables[TABLE]
    whole = copy.deepcopy(table)
    whole.items.clear()
    assert value(db, 7) == 7
