"""Mapping versions: every save of a type's fields becomes a numbered snapshot.

Each request log row names the version that judged it, so "why was this rejected
yesterday" is answered by comparing that version's snapshot with today's.
"""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Max

from .models import (
    FIELD_RULES,
    DataPointType,
    FieldMapping,
    MappingVersion,
    active_type_check,
)
from .spec import config_revision_bump

SNAPSHOT_KEYS = FIELD_RULES


def mapping_snapshot(*, data_point_type: DataPointType) -> list[dict[str, Any]]:
    """The type's fields as plain data, in their order; references by name."""
    fields = data_point_type.fields.select_related(
        "references__data_point_type"
    ).order_by("position", "id")
    return [_field_data(field) for field in fields]


def _field_data(field: FieldMapping) -> dict[str, Any]:
    data = {key: getattr(field, key) for key in SNAPSHOT_KEYS}
    target = field.references
    data["references"] = (
        f"{target.data_point_type.name}.{target.source_field}" if target else None
    )
    return data


@transaction.atomic
def mapping_version_create(*, data_point_type: DataPointType, user) -> MappingVersion:
    """Records the type's fields as its next version and makes that version current.

    Called once per save (after every field of the save is written), so one save is
    one version however many fields it touched.
    """
    locked = DataPointType.objects.select_for_update().get(pk=data_point_type.pk)
    last = locked.versions.aggregate(last=Max("version"))["last"] or 0
    number = max(locked.version, last) + 1
    version = MappingVersion.objects.create(
        data_point_type=locked,
        version=number,
        fields=mapping_snapshot(data_point_type=locked),
        created_by=user if getattr(user, "pk", None) else None,
    )
    # update() sends no signal, so the customer's compiled spec (which carries the
    # type's version into the request log) is invalidated here explicitly.
    DataPointType.objects.filter(pk=locked.pk).update(version=number)
    config_revision_bump(pk=locked.customer_id)
    data_point_type.version = number
    return version


@transaction.atomic
def mapping_fields_add(
    *,
    data_point_type: DataPointType,
    fields: Iterable[FieldMapping],
    user,
    activate: bool = False,
) -> MappingVersion:
    """Adds unsaved fields after the type's current ones, then records a version.

    The import page and the templates both save through here. ``activate`` makes the
    type active, if it then has a Hard-ID field (ValidationError if not).
    """
    position = (
        data_point_type.fields.aggregate(last=Max("position"))["last"] or -1
    ) + 1
    for offset, field in enumerate(fields):
        field.data_point_type = data_point_type
        field.position = position + offset
        field.save()
    if activate and not data_point_type.active:
        active_type_check(
            active=True,
            hard_ids=data_point_type.fields.values_list("hard_id", flat=True),
        )
        data_point_type.active = True
        data_point_type.save(update_fields=["active", "updated_at"])
    return mapping_version_create(data_point_type=data_point_type, user=user)


def snapshot_changes(before: list[dict] | None, after: list[dict]) -> list[str]:
    """What changed between two snapshots, one line per field, for people."""
    if before is None:
        return [f"{len(after)} fields"]
    old = {f["source_field"]: f for f in before}
    new = {f["source_field"]: f for f in after}
    lines = [f"added {name}" for name in new if name not in old]
    lines += [f"removed {name}" for name in old if name not in new]
    for name in (n for n in new if n in old):
        lines += [
            f"{name}.{key}: {_shown(old[name].get(key))} → {_shown(new[name].get(key))}"
            for key in [*SNAPSHOT_KEYS, "references"]
            if old[name].get(key) != new[name].get(key)
        ]
    return lines or ["no field changes"]


def _shown(value: Any) -> str:
    if value in ("", None):
        return "—"
    return str(value).lower() if isinstance(value, bool) else str(value)
