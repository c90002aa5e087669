"""One Logger and one Metrics for every function; the job id is the correlation id."""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics

# botocore's DEBUG output prints whole responses, Secrets Manager values included: never below
# INFO, whatever level the function's own logger runs at.
logging.getLogger("botocore").setLevel(logging.INFO)

logger = Logger(service="syncdrop")
metrics = Metrics(namespace="syncdrop", service="syncdrop")
