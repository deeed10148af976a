"""Error classes of the issuer service, under the service branch of :mod:`passerelle.errors`.

::

    RequestInvalidError                request_invalid
    ├── BatchInvalidError              batch_invalid           rows with errors (422, ``errors``)
    └── CsvEncodingError               csv_encoding            upload is not UTF-8 text (422)
    ConflictError                      conflict
    ├── IdempotencyConflictError       idempotency_key_reused  same key, other body (409)
    └── StatusTransitionError          status_transition_invalid  e.g. reinstate a revoked one
    ServiceError
    └── MethodNotAllowedError          method_not_allowed      (405)
"""

from __future__ import annotations

from passerelle.errors import ConflictError, RequestInvalidError, ServiceError

__all__ = [
    "BatchInvalidError",
    "CsvEncodingError",
    "IdempotencyConflictError",
    "MethodNotAllowedError",
    "StatusTransitionError",
]


class BatchInvalidError(RequestInvalidError):
    """Some rows of a batch are invalid; ``extra["errors"]`` lists ``{row, field, code,
    message}``; nothing was issued."""

    code = "batch_invalid"
    title = "Invalid rows in the batch"


class CsvEncodingError(RequestInvalidError):
    code = "csv_encoding"
    title = "The upload is not UTF-8 text"


class IdempotencyConflictError(ConflictError):
    code = "idempotency_key_reused"
    title = "Idempotency key already used for another request"


class StatusTransitionError(ConflictError):
    code = "status_transition_invalid"
    title = "Status change not allowed"


class MethodNotAllowedError(ServiceError):
    code = "method_not_allowed"
    title = "Method not allowed"
    status = 405
