"""gunicorn's gthread worker, sharing new connections fairly between the processes.

Every worker process polls the one listening socket and a kept-alive connection stays
with the process that accepted it. The stock worker accepts while it has room for
1,000 connections, so a burst of new clients mostly lands on whichever process woke
first: measured with 32 keep-alive clients on 2 workers of 8 threads, 31 of them on
one process in two runs of five (its 8 threads and one GIL served them all, the other
process idled) and the single ingest fell from 1,159 to 852 req/s.

Here a process whose threads are all busy stops accepting until one is free, as a
sync worker does: a new connection goes to a process that can serve it now, and the
kernel's backlog holds it meanwhile when none can.
"""

from gunicorn.workers import gthread


class ThreadWorker(gthread.ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_threads = 0  # connections handed to the pool and not finished

    def enqueue_req(self, conn):
        self.in_threads += 1
        super().enqueue_req(conn)
        if self.in_threads >= self.cfg.threads:
            super().set_accept_enabled(False)

    def finish_request(self, conn, fs):
        self.in_threads -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled):
        # The run loop enables accepting again once below worker_connections; a
        # finished request brings it here (its loop turn), and a free thread with it.
        super().set_accept_enabled(enabled and self.in_threads < self.cfg.threads)
