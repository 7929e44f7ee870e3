"""What one client can take: the bounds TF Serving lacks, with their flags' defaults.

Plain dataclasses, imported by the command line (`serving/flags.py`) before
TensorFlow, and by the request path and the REST connections.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    """What one request may ask of the server."""

    max_request_rows: int = 10_000  # rows (dim 0, or tf.Examples): --max_request_rows
    max_rows_per_run: int = 256  # unbatched rows per model run: --max_rows_per_run
    max_elements: int = 64 * 2**20  # elements per input tensor, checked before decoding

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{field.name} must be a positive integer. Received: {value!r}")


@dataclasses.dataclass(frozen=True)
class ConnectionLimits:
    """Time and count limits of REST connections; every value must be positive."""

    header_timeout_s: float = 10  # from accept or a request's first byte until its handler runs
    idle_timeout_s: float = 30  # between keep-alive requests (aiohttp's `keepalive_timeout`)
    body_timeout_s: float = 30  # to read a request body (applied by the handler)
    max_connections: int = 1024  # open at once; more get a 503
    accept_error_log_interval_s: float = 60  # failing accepts and 503s are logged once per this

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            number = int if field.name == "max_connections" else (int, float)
            if isinstance(value, bool) or not isinstance(value, number) or not value > 0:
                raise ValueError(f"ConnectionLimits.{field.name} must be a positive "
                                 f"{'integer' if number is int else 'number'}, got {value!r}")
