"""Staff roles in the admin: the two groups Data Talks staff are put in.

Superusers are the only ones who can do everything. Onboarding staff set customers
up; support staff look at what happened and change nothing. Secrets stay out of both
roles' reach by the admins themselves: a credential's secret is shown once, in the
message after creation, and account secrets are write-only form fields.
"""

import logging
from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

logger = logging.getLogger(__name__)

ONBOARDING = "Onboarding staff"
SUPPORT = "Support (read-only)"

_EDIT = ("add", "change", "view")
# Rows edited inside another object's page (a type's fields, a customer's group keys,
# a Salesmanago mapping's entries): removing one is part of editing the mapping.
_EDIT_ROWS = ("add", "change", "delete", "view")
_VIEW = ("view",)

# What the API stored and answered, and how it was sent on: looked at, never changed.
_RECORDS = {
    "ingestion.requestlog": _VIEW,
    "ingestion.datapoint": _VIEW,
    "ingestion.secondaryidentifier": _VIEW,
    "ingestion.identitycollision": _VIEW,
    "integrations.delivery": _VIEW,
    "ingestion.fileupload": _VIEW,
    "ingestion.erasurelog": _VIEW,
    "ingestion.suppression": _VIEW,
    "ingestion.retentionperiods": _VIEW,
}

ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    ONBOARDING: {
        "mappings.customer": _EDIT,
        "mappings.groupkey": _EDIT_ROWS,
        "mappings.datapointtype": _EDIT,
        "mappings.fieldmapping": _EDIT_ROWS,
        "mappings.mappingversion": _VIEW,
        "integrations.salesmanagoaccount": _EDIT,
        "integrations.integrationmapping": _EDIT,
        "integrations.mappingentry": _EDIT_ROWS,
        "ingestion.apicredential": _EDIT,
        **_RECORDS,
        # Uploading a file for a customer is ingesting it, as the customer's key would.
        "ingestion.fileupload": ("add", "view"),
        # A person's data on request: erase from a data point's page, lift a
        # suppression, set a customer's retention periods.
        "ingestion.datapoint": ("view", "erase"),
        "ingestion.suppression": ("change", "view"),
        "ingestion.retentionperiods": _EDIT,
    },
    SUPPORT: {
        "mappings.customer": _VIEW,
        "mappings.groupkey": _VIEW,
        "mappings.datapointtype": _VIEW,
        "mappings.fieldmapping": _VIEW,
        "mappings.mappingversion": _VIEW,
        "integrations.integrationmapping": _VIEW,
        "integrations.mappingentry": _VIEW,
        **_RECORDS,
    },
}


@dataclass(frozen=True)
class RoleResult:
    name: str
    created: bool
    permissions: int


def role_codenames(role: str) -> set[str]:
    """The role's permissions as ``app_label.codename`` (``user.has_perm`` spelling)."""
    return {
        f"{model.split('.')[0]}.{action}_{model.split('.')[1]}"
        for model, actions in ROLES[role].items()
        for action in actions
    }


@transaction.atomic
def roles_setup() -> list[RoleResult]:
    """Creates the role groups, or resets them to exactly the permissions above.

    Idempotent. Permissions granted to these groups by hand are removed, so the roles
    stay what this module says they are; give extra rights to a user instead.
    Raises ``LookupError`` when a permission is missing (migrations have not run).
    """
    results = []
    for name in ROLES:
        group, created = Group.objects.get_or_create(name=name)
        permissions = _permissions(role_codenames(name))
        group.permissions.set(permissions)
        results.append(RoleResult(name, created, len(permissions)))
        logger.info("role %s set up with %d permissions", name, len(permissions))
    return results


def _permissions(wanted: set[str]) -> list[Permission]:
    query = Q(pk__in=[])
    for label in wanted:
        app_label, codename = label.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query).select_related("content_type"))
    missing = wanted - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        raise LookupError(
            f"Permissions not found: {', '.join(sorted(missing))}; run migrate first."
        )
    return found
