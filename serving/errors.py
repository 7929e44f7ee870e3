"""The server's one error type: a canonical status code and TF Serving's message.

Every failure a request can meet is a `ServingError(code, message)`. The
gRPC front end aborts with `code` and `message` (cut to TF Serving's 1024
characters); the REST front end answers `{"error": message}` with the HTTP
status TF Serving maps `code` to (`ToHTTPStatusCode` in its http_rest_api
handler), so both protocols report a fault the same way.
"""

import grpc

HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

# TF Serving cuts gRPC status messages to this many characters.
GRPC_MESSAGE_LIMIT = 1024


class ServingError(Exception):
    """A request failed with a canonical `grpc.StatusCode` and a message.

    Args:
        code: A `grpc.StatusCode` other than OK.
        message: TF Serving's message for the fault, without a code prefix.
    """

    def __init__(self, code, message):
        if not isinstance(code, grpc.StatusCode) or code is grpc.StatusCode.OK:
            raise ValueError(
                f"Argument `code` must be a grpc.StatusCode other than OK. Received: code={code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self):
        """The HTTP status TF Serving's REST API answers this error with."""
        return HTTP_STATUS[self.code]

    @property
    def grpc_message(self):
        """The message as TF Serving's gRPC API sends it: at most 1024 characters."""
        if len(self.message) <= GRPC_MESSAGE_LIMIT:
            return self.message
        return self.message[:GRPC_MESSAGE_LIMIT] + "...TRUNCATED"

    def __repr__(self):
        return f"ServingError({self.code.name}, {self.message!r})"


def invalid_argument(message):
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message):
    return ServingError(grpc.StatusCode.NOT_FOUND, message)
