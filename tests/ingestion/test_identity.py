"""Datatalks IDs: one per Hard-ID, per customer and environment; Hard-ID changes;
secondary identifiers and collisions; events linked to their profiles."""

import copy
import threading
import uuid

import pytest

from datatalks.errors import PayloadInvalid
from ingestion import examples
from ingestion.models import DataPoint, IdentityCollision, SecondaryIdentifier
from ingestion.services import datapoint_ingest
from mappings.models import Customer
from tests.harness.customers import (
    caller_for,
    make_customer,
    reference_event,
    reference_person,
)
from tests.harness.threads import in_threads


def ingest(customer, body, category="profile", environment="production", version="v2"):
    return datapoint_ingest(
        caller=caller_for(customer, environment),
        category=category,
        version=version,
        body=body,
    ).datatalks_id


def test_same_hard_id_gets_same_id(demo):
    assert ingest(demo, reference_person()) == ingest(demo, reference_person())
    assert DataPoint.objects.count() == 1


def test_later_payload_replaces_stored_values(demo):
    dp_id = ingest(demo, reference_person(city="Stockholm", age=32))
    body = reference_person(city="Malmö")
    body["data"].pop("age")
    ingest(demo, body)
    stored = DataPoint.objects.get(pk=dp_id)
    assert stored.data["city"] == "Malmö"
    assert stored.data["age"] is None
    assert stored.revision == 2


def test_different_hard_id_gets_different_id(demo):
    assert ingest(demo, reference_person(1)) != ingest(demo, reference_person(2))


def test_another_customer_gets_a_different_id_for_an_equal_hard_id(demo):
    acme = make_customer("acme")
    body = {"type": "person", "groupKey": "main_group", "data": {"customer_id": 12345}}
    assert ingest(acme, body) != ingest(demo, reference_person())


def test_staging_data_is_separate_from_production(demo):
    production = ingest(demo, reference_person())
    staging = ingest(demo, reference_person(), environment="staging")
    assert production != staging
    assert DataPoint.objects.get(pk=staging).environment == "staging"


def test_stored_id_in_the_request_is_accepted(demo):
    dp_id = ingest(demo, reference_person())
    assert ingest(demo, dict(reference_person(), datatalksId=str(dp_id))) == dp_id


def test_datatalks_id_with_a_new_hard_id_changes_the_hard_id(demo):
    dp_id = ingest(demo, reference_person(111))
    assert ingest(demo, dict(reference_person(222), datatalksId=str(dp_id))) == dp_id
    assert DataPoint.objects.get(pk=dp_id).hard_id == "222"
    assert ingest(demo, reference_person(222)) == dp_id
    assert ingest(demo, reference_person(111)) != dp_id


def test_hard_id_change_to_a_used_hard_id_is_refused(demo):
    first = ingest(demo, reference_person(111))
    second = ingest(demo, reference_person(222))
    with pytest.raises(PayloadInvalid) as refused:
        ingest(demo, dict(reference_person(222), datatalksId=str(first)))
    [message] = refused.value.messages
    assert f"already belongs to Datatalks ID {second}" in message
    assert DataPoint.objects.get(pk=first).hard_id == "111"


def test_unknown_datatalks_id_is_refused(demo):
    unknown = uuid.uuid4()
    with pytest.raises(PayloadInvalid, match=f"datatalksId: {unknown} is not a person"):
        ingest(demo, dict(reference_person(), datatalksId=str(unknown)))


def test_another_customers_datatalks_id_is_refused_like_an_unknown_one(demo):
    acme = make_customer("acme")
    acme_id = ingest(
        acme, {"type": "person", "groupKey": "main_group", "data": {"customer_id": 1}}
    )
    with pytest.raises(
        PayloadInvalid,
        match=f"datatalksId: {acme_id} is not a person data point of yours",
    ):
        ingest(demo, dict(reference_person(), datatalksId=str(acme_id)))
    assert DataPoint.objects.get(pk=acme_id).customer == acme


def test_production_id_sent_with_a_staging_key_is_refused(demo):
    production = ingest(demo, reference_person())
    with pytest.raises(PayloadInvalid, match="is not a person data point of yours"):
        ingest(
            demo,
            dict(reference_person(), datatalksId=str(production)),
            environment="staging",
        )


def test_secondary_identifier_is_recorded_normalized(demo):
    dp_id = ingest(demo, reference_person(email="  Juliana.Crane@Fake.com "))
    [secondary] = SecondaryIdentifier.objects.filter(data_point_id=dp_id)
    assert (secondary.kind, secondary.value) == ("email", "juliana.crane@fake.com")


def test_changed_secondary_identifier_replaces_the_old_one(demo):
    dp_id = ingest(demo, reference_person(email="old@fake.com"))
    ingest(demo, reference_person(email="new@fake.com"))
    assert list(
        SecondaryIdentifier.objects.filter(data_point_id=dp_id).values_list(
            "value", flat=True
        )
    ) == ["new@fake.com"]


def test_same_secondary_identifier_on_two_hard_ids_is_a_collision_not_a_merge(demo):
    first = ingest(demo, reference_person(1, email="shared@fake.com"))
    second = ingest(demo, reference_person(2, email="SHARED@fake.com"))
    assert first != second
    [collision] = IdentityCollision.objects.all()
    assert (collision.owner_id, collision.claimant_id) == (first, second)
    assert collision.value == "shared@fake.com"
    assert DataPoint.objects.count() == 2


def test_event_is_linked_to_its_profile(demo):
    profile = ingest(demo, reference_person())
    event_id = ingest(demo, reference_event(), category="event")
    assert DataPoint.objects.get(pk=event_id).profile_id == profile


def test_event_is_linked_when_its_profile_arrives_later(demo):
    event_id = ingest(demo, reference_event(), category="event")
    assert DataPoint.objects.get(pk=event_id).profile_id is None
    profile = ingest(demo, reference_person())
    assert DataPoint.objects.get(pk=event_id).profile_id == profile


def test_event_and_inventory_get_their_own_ids(demo):
    profile = ingest(demo, reference_person())
    event_id = ingest(demo, reference_event(), category="event")
    item = ingest(demo, copy.deepcopy(examples.INVENTORY), category="inventory")
    assert len({profile, event_id, item}) == 3
    assert ingest(demo, reference_event(), category="event") == event_id


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_new_hard_id_end_with_one_id():
    from mappings.demo import demo_load

    demo_load()
    results, errors = [], []
    barrier = threading.Barrier(20)

    def send():
        try:
            customer = Customer.objects.get(slug="demo")
            barrier.wait()
            results.append(ingest(customer, reference_person(777)))
        except Exception as exc:  # any failure is the test's finding
            errors.append(exc)

    in_threads(send, 20)
    assert errors == []
    assert len(results) == 20
    assert len(set(results)) == 1
    assert DataPoint.objects.filter(hard_id="777").count() == 1
