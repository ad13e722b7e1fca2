import logging

from django.core.management.base import BaseCommand

from integrations.salesmanago.sandbox import (
    DEMO_CATALOG_ID,
    DEMO_CLIENT_ID,
    DEMO_OWNER,
    SandboxServer,
)


class Command(BaseCommand):
    help = (
        "Run a local Salesmanago (API v2 and v3, in memory) in the foreground until "
        "Ctrl-C, logging one line per call."
    )

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, **options):
        # One line per call comes from the sandbox's logger at INFO.
        logging.getLogger("integrations.salesmanago.sandbox").setLevel(logging.INFO)
        server = SandboxServer(host=options["host"], port=options["port"])
        self.stdout.write(
            f"Salesmanago sandbox at {server.url}: clientId {DEMO_CLIENT_ID}, "
            f"owner {DEMO_OWNER}, catalog {DEMO_CATALOG_ID}. "
            f"State: {server.url}/_sandbox/state. Ctrl-C stops it."
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Salesmanago sandbox stopped.")
        finally:
            server.stop()
