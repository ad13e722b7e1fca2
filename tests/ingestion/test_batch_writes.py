"""A batch is written as whole columns (one statement on PostgreSQL): identities,
collisions, released ids and event links come out as item-by-item writes would."""

import copy

from ingestion import examples
from ingestion.models import DataPoint, IdentityCollision, SecondaryIdentifier

BATCH = "/v3/profiles/batch"


def person(customer_id: int, **data) -> dict:
    body = copy.deepcopy(examples.PROFILE)
    body["data"].update(customer_id=customer_id, **data)
    return body


def event(event_id: str, customer_id: int) -> dict:
    body = copy.deepcopy(examples.EVENT)
    body["data"].update(event_id=event_id, customer_id=customer_id)
    return body


def results(response) -> list[dict]:
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def owner_of(value: str) -> str:
    return str(SecondaryIdentifier.objects.get(value=value).data_point_id)


def test_two_items_with_one_email_are_a_collision_the_first_owns(api):
    items = [person(1, email="Same@x.com"), person(2, email="same@x.com ")]
    first, second = results(api.post(BATCH, {"items": items}, format="json"))
    assert owner_of("same@x.com") == first["datatalksId"]
    [collision] = IdentityCollision.objects.all()
    assert (str(collision.owner_id), str(collision.claimant_id)) == (
        first["datatalksId"],
        second["datatalksId"],
    )


def test_an_email_owned_before_the_batch_is_a_collision(api):
    [owner] = results(api.post(BATCH, {"items": [person(1, email="a@x.com")]}, "json"))
    [claimant] = results(
        api.post(BATCH, {"items": [person(2, email="a@x.com")]}, format="json")
    )
    assert owner_of("a@x.com") == owner["datatalksId"]
    assert (
        IdentityCollision.objects.get().claimant_id
        == DataPoint.objects.get(pk=claimant["datatalksId"]).pk
    )


def test_a_changed_email_lets_the_old_one_go(api):
    api.post(BATCH, {"items": [person(1, email="old@x.com")]}, format="json")
    [item] = results(
        api.post(BATCH, {"items": [person(1, email="new@x.com")]}, format="json")
    )
    values = SecondaryIdentifier.objects.filter(data_point_id=item["datatalksId"])
    assert list(values.values_list("value", flat=True)) == ["new@x.com"]


def test_the_last_of_equal_hard_ids_wins_and_all_share_its_id(api):
    items = [person(1, city="A"), person(1, city="B"), person(1, city="C")]
    answered = results(api.post(BATCH, {"items": items}, format="json"))
    assert len({r["datatalksId"] for r in answered}) == 1
    stored = DataPoint.objects.get()
    assert (stored.data["city"], stored.revision) == ("C", 1)


def test_profiles_in_a_batch_link_the_events_that_waited_for_them(api):
    events = [event("E-1", 1), event("E-2", 2)]
    waiting = results(api.post("/v3/events/batch", {"items": events}, format="json"))
    assert all(
        DataPoint.objects.get(pk=r["datatalksId"]).profile_id is None for r in waiting
    )
    profiles = results(
        api.post(BATCH, {"items": [person(1), person(2)]}, format="json")
    )
    for waited, profile in zip(waiting, profiles, strict=True):
        linked = DataPoint.objects.get(pk=waited["datatalksId"]).profile_id
        assert str(linked) == profile["datatalksId"]


def test_events_in_a_batch_find_profiles_already_stored(api):
    [profile] = results(api.post(BATCH, {"items": [person(7)]}, format="json"))
    [stored] = results(
        api.post("/v3/events/batch", {"items": [event("E-7", 7)]}, format="json")
    )
    linked = DataPoint.objects.get(pk=stored["datatalksId"]).profile_id
    assert str(linked) == profile["datatalksId"]


def test_a_batch_stores_every_value_exactly_as_sent(api):
    # A batch of several items sends its columns in binary (server-side binding):
    # characters that quoting into SQL or array text would have to escape arrive
    # unchanged, and so do empty strings, nulls and lists.
    awkward = [
        'a "quoted" word',
        "back\\slash \\\\ and \\u00e9",
        "{braces}, commas; and 'apostrophes'",
        "Åsa Ödmark ✓ 🙂",
        "",
        "NULL",
    ]
    items = [
        person(100 + n, first_name=text, city=None, tags=[text, None, 1.5])
        for n, text in enumerate(awkward)
    ]
    answered = results(api.post(BATCH, {"items": items}, format="json"))
    for text, item in zip(awkward, answered, strict=True):
        data = DataPoint.objects.get(pk=item["datatalksId"]).data
        assert (data["first_name"], data["city"], data["tags"]) == (
            text,
            None,
            [text, None, 1.5],
        )
