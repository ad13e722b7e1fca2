"""datapoint_try runs the real ingest path and leaves nothing behind."""

import pytest

from datatalks.errors import PayloadInvalid
from ingestion import examples
from ingestion.models import DataPoint, RequestLog
from ingestion.services import datapoint_try
from integrations.demo import salesmanago_demo_load
from integrations.models import Delivery
from tests.harness.customers import caller_for


def test_try_shows_what_would_be_stored_and_sent_and_stores_nothing(demo):
    salesmanago_demo_load(demo)
    demo.refresh_from_db()
    result = datapoint_try(
        caller=caller_for(demo), category="profile", version="v2", body=examples.PROFILE
    )
    assert result.stored["email"] == "juliana.crane@fake.com"
    [preview] = result.salesmanago
    assert preview["item"]["contact"]["name"] == "Juliana Crane"
    assert DataPoint.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert RequestLog.objects.count() == 0


def test_try_refuses_like_the_api(demo):
    body = {**examples.PROFILE, "data": {**examples.PROFILE["data"], "age": "old"}}
    with pytest.raises(PayloadInvalid) as refused:
        datapoint_try(
            caller=caller_for(demo), category="profile", version="v2", body=body
        )
    assert refused.value.messages == ['data.age: "old" is not an integer']
