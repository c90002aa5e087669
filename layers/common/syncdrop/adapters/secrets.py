"""Secrets from Secrets Manager, cached for the life of the execution environment."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

SECRET_CACHE_SECONDS = 300


def secret_value(secret_arn: str) -> str:
    """The secret's string; cached by Powertools so a warm function does not call AWS."""
    value = parameters.get_secret(secret_arn, max_age=SECRET_CACHE_SECONDS)
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
