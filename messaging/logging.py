"""Log plumbing: every record carries the correlation id of its request."""

import logging

from .context import current_correlation_id


class CorrelationIdFilter(logging.Filter):
    """Adds ``correlation_id`` to each record ("-" outside any command)."""

    def filter(self, record):
        record.correlation_id = current_correlation_id.get() or "-"
        return True
