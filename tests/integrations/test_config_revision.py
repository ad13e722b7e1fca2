"""A customer's compiled mappings (mappings.spec, integrations.routing) are cached per
configuration revision: every change they read, saved or deleted, moves it."""

import pytest

from integrations.demo import salesmanago_demo_load
from integrations.models import IntegrationMapping, MappingEntry, SalesmanagoAccount
from mappings.models import Customer, DataPointType, FieldMapping, GroupKey
from tests.harness.customers import make_customer


def _person(demo):
    return DataPointType.objects.get(customer=demo, name="person")


CHANGES = {
    "type": lambda demo: _person(demo),
    "field": lambda demo: FieldMapping.objects.get(
        data_point_type=_person(demo), source_field="email"
    ),
    "group key": lambda demo: GroupKey.objects.get(customer=demo, key="main_group"),
    "account": lambda demo: SalesmanagoAccount.objects.get(customer=demo),
    "salesmanago mapping": lambda demo: IntegrationMapping.objects.get(
        data_point_type=_person(demo)
    ),
    "mapping entry": lambda demo: MappingEntry.objects.filter(
        mapping__data_point_type=_person(demo)
    ).first(),
}


def _revision(customer) -> int:
    return Customer.objects.get(pk=customer.pk).config_revision


@pytest.mark.parametrize("what", CHANGES)
def test_saving_what_a_spec_reads_moves_only_its_customers_revision(demo, what):
    salesmanago_demo_load(demo)
    other = make_customer("other")
    before, others_before = _revision(demo), _revision(other)
    CHANGES[what](demo).save()
    assert _revision(demo) == before + 1
    assert _revision(other) == others_before


@pytest.mark.parametrize("what", ["field", "mapping entry", "salesmanago mapping"])
def test_deleting_what_a_spec_reads_moves_its_customers_revision(demo, what):
    salesmanago_demo_load(demo)
    before = _revision(demo)
    CHANGES[what](demo).delete()
    assert _revision(demo) > before
