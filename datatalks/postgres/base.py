"""Django's PostgreSQL backend with a health check that costs no round trip.

``CONN_HEALTH_CHECKS`` makes Django check a kept connection before a request first
uses it. The stock check is a ``SELECT 1``: a round trip on every request, as much as
the ingest's one statement. This one looks at the socket instead: between queries the
server sends nothing, so a readable socket means it ended the session (a restart, a
crash, a terminated backend: a FATAL message, then the end of the stream). A server
that vanished without closing the socket is not seen here; the request's first query
then fails with a clean 503 and Django drops the connection.
"""

import select

import psycopg
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        return not _ended_by_server(conn)


def _ended_by_server(conn: psycopg.Connection) -> bool:
    # The FATAL message and the end of the stream may need a read each.
    for _ in range(3):
        try:
            readable, _, _ = select.select([conn.fileno()], [], [], 0)
        except (OSError, ValueError, psycopg.OperationalError):
            return True
        if not readable:
            return False
        try:
            conn.pgconn.consume_input()
        except psycopg.OperationalError:
            return True
        if conn.pgconn.status != psycopg.pq.ConnStatus.OK:
            return True
    return False
