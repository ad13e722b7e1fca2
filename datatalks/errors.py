"""Domain errors: raised by services, turned into the response envelope by datatalks.api."""


class ApiError(Exception):
    """An error the caller can act on; ``messages`` are shown to them as they are."""

    status_code = 400

    def __init__(self, *messages: str):
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class PayloadInvalid(ApiError):
    """The body or its ``data`` broke one or more rules; every problem is listed."""


class NotFound(ApiError):
    status_code = 404


class UnsupportedFormat(ApiError):
    """A body in a format the endpoint does not read."""

    status_code = 415


class TooLarge(ApiError):
    status_code = 413
