"""Powertools logger, tracer and metrics shared by every handler.

Every handler calls ``bind_ids`` first, so each log line carries the instance id and the
execution name once they are known.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def bind_ids(**ids: str | None) -> None:
    """Add the non-empty ids to every following log line of this invocation."""
    logger.append_keys(**{key: value for key, value in ids.items() if value})


def count(name: str, dimension: str, value: str) -> None:
    """Emit one count metric at once with a single dimension, e.g. Verdicts by verdict."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
        metric.add_dimension(name=dimension, value=value)


def milliseconds(name: str, value: int) -> None:
    """Emit one duration metric, e.g. SuiteDuration."""
    with single_metric(name=name, unit=MetricUnit.Milliseconds, value=value, namespace=metrics.namespace):
        pass
