"""gunicorn reads this file from the working directory by default (make run, make bench,
the tests' servers)."""

import gc
import os
import shutil
import tempfile

# Prometheus multiprocess mode (datatalks/metrics.py): each worker writes its metrics
# to files in this directory and /metrics adds them up. It must be set before a worker
# imports prometheus_client. scripts/run.sh sets it (shared with the Celery worker, and
# emptied at each start); otherwise this server gets a fresh directory of its own,
# removed when it stops, so a restart never adds old counts.
_OWN_METRICS_DIR = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="datatalks-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR


# Threads, so that a process's concurrent single ingests are written by one statement
# (group commit, ingestion/grouping.py); a sync worker serves one request at a time and
# writes each alone. 8 threads a process won make bench on 2 cores (bench/PROFILE.md):
# run about one worker per core (--workers on the command line). gthread, sharing new
# connections fairly between the processes (datatalks/workers.py).
worker_class = "datatalks.workers.ThreadWorker"
threads = 8


def post_worker_init(worker):
    # Django and the app are loaded by now: moving them out of the collector's view
    # keeps each collection from walking them again (a 1,000-item batch makes many).
    gc.freeze()


# An access log (--access-logfile) names the path, never the query string: a presigned
# request's query string holds its signature (X-Amz-Signature, X-Amz-Credential).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'


def child_exit(server, worker):
    # A dead worker's live gauges go; its counters stay in the sums. Imported here,
    # after the directory above is in the environment (prometheus_client reads it
    # when first imported).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)
