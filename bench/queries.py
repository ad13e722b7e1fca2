"""SQL statements per request, counted on the real request path.

Django's test client sends requests signed by botocore through every middleware,
SigV4 authentication and the request log; CaptureQueriesContext lists what reaches
PostgreSQL through Django (BEGIN and COMMIT included).
"""

from bench import pool

SINGLE = "/v3/profiles"
BATCH = "/v3/profiles/batch"


def count_queries(env) -> dict:
    """Queries of the real request path, through Django's test client, signed."""
    from django.db import connection

    counter = _QueryCounter(
        pool.Signer("http://testserver", env.key, env.secret, **pool.scope())
    )
    single = next(pool.single_bodies(1))
    batch = pool.batch_body(pool.new_profiles(1000))
    is_usable = connection.is_usable
    connection.is_usable = counter.counted(is_usable)
    try:
        counter.post(SINGLE, next(pool.single_bodies(1)), 1)  # warms the caches
        return {
            "single ingest (new Hard-ID)": counter.post(SINGLE, single, 1),
            "single ingest (same Hard-ID)": counter.post(SINGLE, single, 1),
            "batch of 1,000 (new)": counter.post(BATCH, batch, 1000),
        }
    finally:
        connection.is_usable = is_usable


class _QueryCounter:
    """Posts signed requests through Django's test client and lists their SQL."""

    def __init__(self, signer: pool.Signer):
        from django.test import Client

        self.client = Client()
        self.signer = signer
        self.health_checks = 0

    def counted(self, is_usable):
        def wrapper():
            self.health_checks += 1
            return is_usable()

        return wrapper

    def post(self, path: str, body: bytes, items: int) -> dict:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.health_checks = 0
        with CaptureQueriesContext(connection) as captured:
            response = signed_test_post(self.client, self.signer, path, body)
        pool.check_accepted(response, items)
        statements = [q["sql"].split()[0] for q in captured.captured_queries]
        return {
            "count": len(statements),
            "statements": statements,
            # Django's connection health check: on datatalks.postgres a look at the
            # socket, no round trip (Django does not log it either way).
            "health_checks": self.health_checks,
        }


def signed_test_post(client, signer: pool.Signer, path: str, body: bytes):
    """POSTs through Django's test client, signed by botocore for host testserver."""
    from django.db import close_old_connections

    # What request_started does in production (the test client disconnects it): a
    # connection kept from an earlier request is health-checked again.
    close_old_connections()
    headers = signer.headers(path, body)
    return client.post(
        path,
        data=body,
        content_type="application/json",
        HTTP_HOST="testserver",
        HTTP_X_AMZ_DATE=headers["X-Amz-Date"],
        HTTP_AUTHORIZATION=headers["Authorization"],
    )
