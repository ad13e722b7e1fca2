"""gunicorn reads this file from the working directory by default (make run, make bench)."""

import gc


def post_worker_init(worker):
    # Django and the app are loaded by now: moving them out of the collector's view
    # keeps each collection from walking them again (a 1,000-item batch makes many).
    gc.freeze()


# An access log (--access-logfile) names the path, never the query string: a presigned
# request's query string holds its signature (X-Amz-Signature, X-Amz-Credential).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
