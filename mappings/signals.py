"""Bump the customer's configuration revision when anything its compiled spec reads changes."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Customer, DataPointType, FieldMapping, GroupKey
from .spec import bump_on_change, config_changed

bump_on_change(DataPointType, "pk", "customer_id")
bump_on_change(GroupKey, "pk", "customer_id")
bump_on_change(FieldMapping, "data_point_types", "data_point_type_id")


@receiver([post_save, post_delete], sender=Customer)
def _customer_changed(sender, instance, **kwargs):
    config_changed.send(sender=Customer)
