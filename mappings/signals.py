"""Bump the customer's configuration revision when anything its compiled spec reads changes."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Customer, DataPointType, FieldMapping, GroupKey
from .spec import config_changed, config_revision_bump


@receiver([post_save, post_delete], sender=DataPointType)
@receiver([post_save, post_delete], sender=GroupKey)
def _type_or_key_changed(sender, instance, **kwargs):
    config_revision_bump(pk=instance.customer_id)


@receiver([post_save, post_delete], sender=FieldMapping)
def _field_changed(sender, instance, **kwargs):
    config_revision_bump(data_point_types=instance.data_point_type_id)


@receiver([post_save, post_delete], sender=Customer)
def _customer_changed(sender, instance, **kwargs):
    config_changed.send(sender=Customer)
