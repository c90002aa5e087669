"""Secrets from Secrets Manager, cached for the life of the execution environment."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider

SECRET_CACHE_SECONDS = 300


class CachedSecret:
    """One secret's string, fetched through Powertools' cache so a warm function skips AWS."""

    def __init__(self, client: Any, secret_arn: str) -> None:
        # Our own provider (not Powertools' global one) so it uses the shared client config.
        self._provider = SecretsProvider(boto3_client=client)
        self._arn = secret_arn

    def __call__(self) -> str:
        value = self._provider.get(self._arn, max_age=SECRET_CACHE_SECONDS)
        if isinstance(value, bytes):
            return value.decode()
        return str(value)
