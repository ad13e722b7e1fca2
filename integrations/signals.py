"""Bump the customer's configuration revision when its accounts or Salesmanago mappings change."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from mappings.spec import config_revision_bump

from .models import IntegrationMapping, MappingEntry, SalesmanagoAccount


@receiver([post_save, post_delete], sender=SalesmanagoAccount)
def _account_changed(sender, instance, **kwargs):
    config_revision_bump(pk=instance.customer_id)


@receiver([post_save, post_delete], sender=IntegrationMapping)
def _mapping_changed(sender, instance, **kwargs):
    config_revision_bump(data_point_types=instance.data_point_type_id)


@receiver([post_save, post_delete], sender=MappingEntry)
def _entry_changed(sender, instance, **kwargs):
    config_revision_bump(data_point_types__salesmanago_mapping=instance.mapping_id)
