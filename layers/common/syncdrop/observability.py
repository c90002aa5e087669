"""One Logger and one Metrics for every function; the job id is the correlation id."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="syncdrop")
metrics = Metrics(namespace="syncdrop", service="syncdrop")
