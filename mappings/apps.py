from django.apps import AppConfig


class MappingsConfig(AppConfig):
    name = "mappings"
    verbose_name = "Onboarding"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from datatalks import migration_checks  # noqa: F401  (registers its check)

        from . import signals  # noqa: F401  (connects the spec cache invalidation)
