"""`make bench`: the service under load, measured against the framework's own limit."""
