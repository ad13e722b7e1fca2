import json
import shlex

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ingestion import examples
from ingestion.credentials import demo_credential
from mappings.models import Customer

DEFAULT_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = (
        "Development only (DJANGO_DEBUG=true): make sure the demo customer has an active "
        "production key, and print it with a signed curl request to try."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default=DEFAULT_URL, help="Where the API answers (make run's)."
        )

    def handle(self, *args, **options):
        # Printing a stored secret is acceptable for the local demo customer only.
        if not settings.DEBUG:
            raise CommandError(
                "demo_credentials prints a secret; it runs only in DEBUG."
            )
        try:
            credential, created = demo_credential()
        except Customer.DoesNotExist:
            raise CommandError(
                "No demo customer: run `manage.py load_demo` first."
            ) from None
        state = "Created" if created else "Using"
        self.stdout.write(f"{state} the demo customer's API key:")
        self.stdout.write(f"ACCESS_KEY_ID={credential.access_key_id}")
        self.stdout.write(f"SECRET_ACCESS_KEY={credential.secret_access_key}")
        self.stdout.write("Try it (AWS Signature V4, signed by curl):")
        self.stdout.write(
            curl_command(
                credential.access_key_id,
                credential.secret_access_key,
                url=options["url"].rstrip("/") + "/v2/profiles",
            )
        )


def curl_command(key: str, secret: str, *, url: str) -> str:
    """A ready-to-paste curl that POSTs the reference's profile example."""
    scope = (
        f"aws:amz:{settings.DATATALKS_SIGV4_REGION}:{settings.DATATALKS_SIGV4_SERVICE}"
    )
    body = json.dumps(examples.PROFILE, ensure_ascii=False)
    # Keys and secrets are letters, digits, "+" and "/": safe inside double quotes.
    lines = [
        f'curl --aws-sigv4 "{scope}"',
        f'  --user "{key}:{secret}"',
        '  -H "Content-Type: application/json"',
        f"  --data-binary {shlex.quote(body)}",
        f"  {url}",
    ]
    return " \\\n".join(lines)
