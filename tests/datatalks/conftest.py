"""Fixtures of the admin and role tests."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command


@pytest.fixture
def as_role(client, django_user_model, db):
    """Logs ``client`` in as a new staff user in the given role's group."""
    call_command("setup_roles", stdout=StringIO())

    def login(role: str):
        user = django_user_model.objects.create_user(
            role.split()[0].lower(), password="pw", is_staff=True
        )
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return client

    return login
