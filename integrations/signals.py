"""Bump the customer's configuration revision when its accounts or Salesmanago mappings change."""

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from mappings.models import Customer

from .models import IntegrationMapping, MappingEntry, SalesmanagoAccount


def _bump(customer_id) -> None:
    if customer_id is not None:
        Customer.objects.filter(pk=customer_id).update(
            config_revision=F("config_revision") + 1
        )


@receiver([post_save, post_delete], sender=SalesmanagoAccount)
def _account_changed(sender, instance, **kwargs):
    _bump(instance.customer_id)


@receiver([post_save, post_delete], sender=IntegrationMapping)
def _mapping_changed(sender, instance, **kwargs):
    _bump(
        Customer.objects.filter(data_point_types=instance.data_point_type_id)
        .values_list("pk", flat=True)
        .first()
    )


@receiver([post_save, post_delete], sender=MappingEntry)
def _entry_changed(sender, instance, **kwargs):
    _bump(
        Customer.objects.filter(
            data_point_types__salesmanago_mapping=instance.mapping_id
        )
        .values_list("pk", flat=True)
        .first()
    )
