from django.core.management.base import BaseCommand, CommandError

from ingestion.credentials import credential_create
from mappings.models import Customer, Environment


class Command(BaseCommand):
    help = (
        "Create an API key pair for a customer and print it once, as ACCESS_KEY_ID=... "
        "and SECRET_ACCESS_KEY=... lines."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer", help="The customer's slug.")
        parser.add_argument(
            "--staging",
            action="store_true",
            help="A staging key (default: production).",
        )
        parser.add_argument("--description", default="", help="What the key is for.")

    def handle(self, *args, **options):
        try:
            customer = Customer.objects.get(slug=options["customer"])
        except Customer.DoesNotExist:
            raise CommandError(
                f"No customer with slug {options['customer']!r}."
            ) from None
        environment = (
            Environment.STAGING if options["staging"] else Environment.PRODUCTION
        )
        credential, secret = credential_create(
            customer=customer,
            environment=environment,
            description=options["description"],
        )
        self.stderr.write(
            f"Created a {environment} key for {customer}. The secret is shown only now; "
            "send it to the customer securely."
        )
        self.stdout.write(f"ACCESS_KEY_ID={credential.access_key_id}")
        self.stdout.write(f"SECRET_ACCESS_KEY={secret}")
