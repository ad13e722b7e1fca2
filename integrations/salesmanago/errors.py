"""The one error type of the Salesmanago client, and the record of one HTTP exchange."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Exchange:
    """One POST to Salesmanago as the ledger keeps it: excerpts without credentials."""

    method: str
    url: str
    request: str
    status: int | None
    response: str
    elapsed_ms: float


class SalesmanagoError(Exception):
    """A whole call failed.

    permanent=True: never retry (HTTP 200 with ``success: false``, a 4xx other than 429,
    a v3 top-level ``reasonCode``). permanent=False: retry later (timeout, connection
    error, 429, 5xx, a body that is not JSON). ``retry_after`` is the server's
    Retry-After in seconds when it sent one. ``exchange`` is the call as made, when
    one was made. ``in_doubt``: the request was written but no answer came (a read
    timeout, a connection dropped after it), so Salesmanago may have done it; a call
    refused at connect was never sent and is not in doubt. The message never
    contains credentials.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        status: int | None = None,
        exchange: Exchange | None = None,
        in_doubt: bool = False,
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status
        self.exchange = exchange
        self.in_doubt = in_doubt

    def __repr__(self) -> str:
        kind = "permanent" if self.permanent else "transient"
        return f"SalesmanagoError({self.message!r}, {kind}, status={self.status})"
