"""Settings of `make bench`: the production settings plus the bench-only URLs.

bench/run.py sets the environment (secret key, encryption key, database, Redis) before
this module is imported, exactly as a deployment would.
"""

from datatalks.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
