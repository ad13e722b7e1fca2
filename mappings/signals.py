"""Bump the customer's mapping version when anything its compiled spec reads changes."""

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Customer, DataPointType, FieldMapping, GroupKey


def _bump(customer_id: int) -> None:
    Customer.objects.filter(pk=customer_id).update(
        config_revision=F("config_revision") + 1
    )


@receiver([post_save, post_delete], sender=DataPointType)
@receiver([post_save, post_delete], sender=GroupKey)
def _type_or_key_changed(sender, instance, **kwargs):
    _bump(instance.customer_id)


@receiver([post_save, post_delete], sender=FieldMapping)
def _field_changed(sender, instance, **kwargs):
    customer_id = (
        DataPointType.objects.filter(pk=instance.data_point_type_id)
        .values_list("customer_id", flat=True)
        .first()
    )
    if customer_id is not None:
        _bump(customer_id)
