"""Admin sign-in lockout (django-axes): wrong passwords lock a user name out, even for
the right password, until the cool-off passes or staff reset it."""

import pytest
from django.core.management import call_command
from django.urls import reverse

LOGIN = reverse("admin:login")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_superuser(
        "boss", "b@example.com", "right-pw"
    )


def sign_in(client, password: str, username: str = "boss"):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}
    )


def test_thirty_wrong_passwords_lock_the_name_out(client, staff_user, settings):
    answers = [sign_in(client, f"wrong-{n}").status_code for n in range(30)]
    limit = settings.AXES_FAILURE_LIMIT
    assert answers[: limit - 1] == [200] * (limit - 1)  # the form again, with an error
    assert set(answers[limit:]) == {429}
    assert sign_in(client, "right-pw").status_code == 429  # locked, right password too
    assert "_auth_user_id" not in client.session


def test_a_success_before_the_limit_resets_the_count(client, staff_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, f"wrong-{n}")
    assert sign_in(client, "right-pw").status_code == 302
    client.logout()
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, f"wrong-{n}").status_code == 200


def test_staff_can_lift_a_lockout(client, staff_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"wrong-{n}")
    assert sign_in(client, "right-pw").status_code == 429
    call_command("axes_reset_username", "boss")
    assert sign_in(client, "right-pw").status_code == 302
