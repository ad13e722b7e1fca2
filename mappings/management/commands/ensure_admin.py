import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the development admin user if missing, and print its login."

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="Where the site answers."
        )

    def handle(self, *args, **options):
        admin_url = options["url"].rstrip("/") + "/admin/"
        username = os.environ.get("DATATALKS_ADMIN_USER", "admin")
        password = os.environ.get("DATATALKS_ADMIN_PASSWORD", "admin")
        user_model = get_user_model()
        if not user_model.objects.filter(username=username).exists():
            user_model.objects.create_superuser(
                username, f"{username}@localhost", password
            )
            self.stdout.write(
                f"Created admin user. Log in at {admin_url} as {username} / {password}"
            )
        else:
            self.stdout.write(
                f"Admin user '{username}' exists. Log in at {admin_url} "
                "(default password: admin)"
            )
