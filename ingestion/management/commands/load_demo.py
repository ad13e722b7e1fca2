from django.core.management.base import BaseCommand

from integrations.demo import salesmanago_demo_load
from mappings.demo import demo_load


class Command(BaseCommand):
    help = "Create the demo customer with the reference examples' types (idempotent)."

    def handle(self, *args, **options):
        customer = demo_load()
        account = salesmanago_demo_load(customer)
        types = ", ".join(
            customer.data_point_types.order_by("name").values_list("name", flat=True)
        )
        self.stdout.write(f"Demo customer '{customer.slug}' ready with types: {types}")
        self.stdout.write(f"Salesmanago account for main_group at {account.base_url}")
