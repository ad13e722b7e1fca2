"""A person's data on request over the signed API: DELETE (erase, suppress) and GET
(export) /v3/profiles/{datatalksId}, against PostgreSQL."""

import uuid

from django.db import connection
from django.utils import timezone

from ingestion.models import (
    DataPoint,
    ErasureLog,
    IdentityCollision,
    RequestLog,
    SecondaryIdentifier,
    Suppression,
)
from ingestion.privacy.services import suppressions_lift
from ingestion.privacy.suppression import REFUSED
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery, DeliveryKind, DeliveryStatus
from tests.harness.customers import (
    make_customer,
    reference_event,
    reference_person,
    signed_client,
)

EMAIL = "juliana.crane@fake.com"


def sent(api, path, body):
    response = api.post(path, body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["datatalksId"]


def erase(api, dp_id, suppress=None):
    query = "" if suppress is None else f"?suppress={suppress}"
    return api.delete(f"/v3/profiles/{dp_id}{query}")


def test_erase_wipes_values_ids_and_linked_events_and_answers_the_id(api, demo):
    dp_id = sent(api, "/v2/profiles", reference_person())
    event_ids = [sent(api, "/v2/events", reference_event(f"E-{n}")) for n in range(2)]
    waiting = sent(api, "/v2/events", reference_event("E-9", customer_id=777))
    response = erase(api, dp_id)
    assert response.status_code == 200
    body = response.json()
    assert (body["success"], body["datatalksId"], body["messages"]) == (
        True,
        dp_id,
        [],
    )
    profile = DataPoint.objects.get(pk=dp_id)
    assert profile.data == {} and profile.erased_at is not None
    assert "12345" not in profile.hard_id
    assert not SecondaryIdentifier.objects.filter(data_point_id=dp_id).exists()
    for pk in event_ids:
        stored = DataPoint.objects.get(pk=pk)
        assert (stored.data, stored.profile_id) == ({}, uuid.UUID(dp_id))
        assert stored.erased_at is not None
    assert DataPoint.objects.get(pk=waiting).data != {}  # another person's event
    [log] = ErasureLog.objects.all()
    assert (log.via, log.requested_by, log.suppressed) == ("api", api.key, False)
    assert log.erased["events"] == 2 and log.erased["secondary_ids"] == 1


def test_erasing_twice_is_200_and_does_nothing_more(api, demo):
    dp_id = sent(api, "/v2/profiles", reference_person())
    assert erase(api, dp_id, "true").status_code == 200
    revision = DataPoint.objects.get(pk=dp_id).revision
    again = erase(api, dp_id, "true")
    assert again.status_code == 200
    assert again.json()["datatalksId"] == dp_id
    assert again.json()["messages"] == ["It was erased before; nothing more was done."]
    assert ErasureLog.objects.count() == 1
    assert DataPoint.objects.get(pk=dp_id).revision == revision


def test_another_customers_id_gets_the_answer_of_an_unknown_one(api, demo):
    other = make_customer("other")
    theirs = sent(
        signed_client(other),
        "/v3/profiles",
        {"type": "person", "data": {"customer_id": 1, "email": "x@y.com"}},
    )
    unknown = erase(api, uuid.uuid4())
    foreign = erase(api, theirs)
    assert unknown.status_code == foreign.status_code == 404
    assert foreign.json()["messages"] == [
        f"datatalksId: {theirs} is not a profile of yours"
    ]
    assert api.get(f"/v3/profiles/{theirs}").status_code == 404
    assert DataPoint.objects.get(pk=theirs).data["email"] == "x@y.com"


def test_an_event_id_a_bad_id_and_a_bad_flag_are_clear_4xx(api, demo):
    dp_id = sent(api, "/v2/profiles", reference_person())
    event_id = sent(api, "/v2/events", reference_event())
    assert erase(api, event_id).status_code == 404
    bad = erase(api, "not-a-uuid")
    assert bad.status_code == 400
    assert "is not a Datatalks ID" in bad.json()["messages"][0]
    flag = erase(api, dp_id, "maybe")
    assert flag.status_code == 400
    assert flag.json()["messages"] == ["suppress: 'maybe' is not true or false"]
    assert DataPoint.objects.get(pk=dp_id).erased_at is None


def test_a_staging_key_cannot_erase_production_data(api, demo):
    dp_id = sent(api, "/v2/profiles", reference_person())
    assert erase(signed_client(demo, "staging"), dp_id).status_code == 404


def test_suppressed_hard_id_secondary_id_and_events_are_refused(api, demo):
    dp_id = sent(api, "/v2/profiles", reference_person())
    assert erase(api, dp_id, "true").status_code == 200
    for path, body in [
        ("/v2/profiles", reference_person()),
        ("/v2/profiles", reference_person(99999)),  # another Hard-ID, the same email
        ("/v2/events", reference_event("E-2")),  # refers to the erased Hard-ID
    ]:
        response = api.post(path, body, format="json")
        assert response.status_code == 400, (path, response.json())
        assert response.json()["messages"] == [REFUSED]
    assert sent(api, "/v2/profiles", reference_person(2, email="someone@else.com"))
    batch = api.post(
        "/v3/profiles/batch",
        {"items": [reference_person(3, email="c@d.com"), reference_person()]},
        format="json",
    ).json()
    assert [(r["success"], r["messages"]) for r in batch["results"]] == [
        (True, []),
        (False, [REFUSED]),
    ]
    assert not DataPoint.objects.filter(hard_id="12345").exists()


def test_without_suppress_the_person_can_come_back_as_someone_new(api, demo):
    dp_id = sent(api, "/v2/profiles", reference_person())
    assert erase(api, dp_id).status_code == 200
    again = sent(api, "/v2/profiles", reference_person())
    assert again != dp_id


def test_staff_lift_a_suppression_and_the_data_is_accepted_again(api, demo):
    dp_id = sent(api, "/v2/profiles", reference_person())
    erase(api, dp_id, "true")
    assert (
        api.post("/v2/profiles", reference_person(), format="json").status_code == 400
    )
    ids = Suppression.objects.values_list("pk", flat=True)
    assert suppressions_lift(ids=ids, lifted_by="staffer") == 2
    assert sent(api, "/v2/profiles", reference_person()) != dp_id


def test_export_lists_values_ids_events_and_what_was_sent(api, demo):
    account = salesmanago_demo_load(demo)
    dp_id = sent(api, "/v2/profiles", reference_person())
    sent(api, "/v2/events", reference_event("E-1"))
    when = timezone.now()
    Delivery.objects.filter(data_point_id=dp_id).update(
        status=DeliveryStatus.SENT, sent_at=when
    )
    response = api.get(f"/v3/profiles/{dp_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["datatalksId"] == dp_id
    profile = body["profile"]
    assert profile["values"]["email"] == EMAIL
    assert profile["secondaryIds"] == [{"kind": "email", "value": EMAIL}]
    [linked] = profile["events"]
    assert (linked["type"], linked["values"]["event_id"]) == ("purchase_ev", "E-1")
    assert profile["eventsTotal"] == 1
    [account_sent] = profile["salesmanago"]
    assert account_sent["clientId"] == account.client_id
    assert account_sent["sent"] is True
    assert account_sent["sentAt"].startswith(when.strftime("%Y-%m-%dT%H:%M"))


def test_erase_cancels_open_deliveries_and_queues_the_contact_delete(api, demo):
    account = salesmanago_demo_load(demo)
    dp_id = sent(api, "/v2/profiles", reference_person())
    Delivery.objects.filter(data_point_id=dp_id).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now()
    )
    sent(
        api, "/v2/profiles", reference_person(city="Malmö")
    )  # a second revision, pending
    event_id = sent(api, "/v2/events", reference_event())
    erase(api, dp_id)
    statuses = dict(
        Delivery.objects.filter(kind=DeliveryKind.UPSERT).values_list(
            "revision", "status"
        )
    )
    assert statuses == {1: "sent", 2: "cancelled"}
    assert Delivery.objects.get(data_point_id=event_id).status == "cancelled"
    [eraser] = Delivery.objects.filter(kind=DeliveryKind.ERASE)
    assert (eraser.account_id, eraser.status) == (account.pk, "pending")
    assert eraser.contact_email == EMAIL  # encrypted at rest, read back here
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT contact_email FROM {Delivery._meta.db_table} WHERE id = %s",  # noqa: S608 (a table name)
            [Delivery._meta.pk.get_db_prep_value(eraser.pk, connection)],
        )
        [stored] = cursor.fetchone()
    assert stored and EMAIL not in stored


def test_request_log_messages_and_collisions_quoting_the_person_are_emptied(api, demo):
    dp_id = sent(api, "/v2/profiles", reference_person())
    other = sent(api, "/v2/profiles", reference_person(555, email=EMAIL))  # a collision
    bad = reference_person(first_name=["Juliana", {"x": 1}])
    assert api.post("/v2/profiles", bad, format="json").status_code == 400
    bad_email = reference_person(email="juliana.crane@fake")
    api.post("/v2/profiles", bad_email, format="json")
    quoting = RequestLog.objects.filter(status_code=400)
    assert any(
        "juliana" in str(m).lower() for m in quoting.values_list("messages", flat=True)
    )
    assert IdentityCollision.objects.filter(claimant_id=other).exists()
    erase(api, dp_id)
    texts = [
        str(m).lower() for m in RequestLog.objects.values_list("messages", flat=True)
    ]
    assert not any("juliana" in t for t in texts), texts
    assert not IdentityCollision.objects.exists()


def test_the_customers_own_document_describes_export_and_erase(api, demo):
    document = api.get("/v3/schema").json()
    operations = document["paths"]["/v3/profiles/{datatalksId}"]
    assert operations["get"]["operationId"] == "v3_profiles_retrieve"
    assert operations["delete"]["operationId"] == "v3_profiles_erase"
    assert [p["name"] for p in operations["delete"]["parameters"]] == ["suppress"]


def test_an_erased_datatalks_id_is_never_written_again(api, demo):
    dp_id = sent(api, "/v2/profiles", reference_person())
    erase(api, dp_id)
    body = reference_person()
    body["datatalksId"] = dp_id
    response = api.post("/v3/profiles", body, format="json")
    assert response.status_code == 400
    assert response.json()["messages"] == [
        f"datatalksId: {dp_id} is not a person data point of yours"
    ]
    assert DataPoint.objects.get(pk=dp_id).data == {}
