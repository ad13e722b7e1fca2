from django.core.management.base import BaseCommand, CommandError

from datatalks.roles import roles_setup


class Command(BaseCommand):
    help = (
        'Create the staff groups "Onboarding staff" and "Support (read-only)", or reset '
        "them to their permissions (idempotent)."
    )

    def handle(self, *args, **options):
        try:
            results = roles_setup()
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        for role in results:
            verb = "Created" if role.created else "Updated"
            self.stdout.write(
                f"{verb} group '{role.name}' ({role.permissions} permissions)"
            )
