"""Compiled, immutable views of a customer's mappings, cached per configuration revision.

Hot code (every ingest request) reads mappings only through these, never as rows.
A customer's ``config_revision`` is bumped whenever staff change a type, a field or a
group key, so a cached entry is never stale: its key no longer matches.
"""

from dataclasses import dataclass
from functools import lru_cache

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

from .models import FIELD_RULES, Customer, DataPointType, FieldMapping, GroupKey
from .types import PARSERS


@dataclass(frozen=True, slots=True)
class FieldSpec:
    source: str
    cdp: str
    data_type: str
    fmt: str
    optional: bool
    hard_id: bool
    secondary_id: bool
    # For an event field that refers to a profile: the profile type's id.
    references_type_id: int | None

    @property
    def parser(self):
        return PARSERS[self.data_type]


@dataclass(frozen=True, slots=True)
class TypeSpec:
    id: int
    customer_id: int
    name: str
    category: str
    active: bool
    version: int
    fields: tuple[FieldSpec, ...]

    @property
    def hard_id_fields(self) -> tuple[FieldSpec, ...]:
        return tuple(f for f in self.fields if f.hard_id)

    @property
    def reference_field(self) -> FieldSpec | None:
        return next((f for f in self.fields if f.references_type_id), None)


@dataclass(frozen=True, slots=True)
class CustomerSpec:
    customer_id: int
    # The customer's config_revision it was compiled at (a cache key; each TypeSpec
    # carries its own mapping version).
    revision: int
    types: dict[str, TypeSpec]
    group_keys: dict[str, int]
    default_group_key: str | None


# Sent after customers' revisions moved, or a customer row was saved or deleted:
# caches holding a customer (ingestion's credential cache) drop it at once in this
# process; other processes follow within their own bound.
config_changed = Signal()


def config_revision_bump(**customers) -> None:
    """Invalidates the compiled specs of the customers that match ``customers`` (a
    Customer filter: ``pk=...``, ``data_point_types=...``): the one place a
    customer's configuration revision moves.

    Called whenever something a spec (or integrations.routing) reads is changed; an
    ``update()`` sends no signal, so its caller calls this too.
    """
    Customer.objects.filter(**customers).update(
        config_revision=F("config_revision") + 1
    )
    config_changed.send(sender=Customer)


def bump_on_change(model, lookup: str, attribute: str) -> None:
    """Bumps, on every save and delete of a ``model`` row, the revision of the
    customers whose ``lookup`` is that row's ``attribute`` (``"pk", "customer_id"``)."""

    def changed(sender, instance, **kwargs):
        config_revision_bump(**{lookup: getattr(instance, attribute)})

    for signal in (post_save, post_delete):
        signal.connect(
            changed, sender=model, weak=False, dispatch_uid=f"bump:{model._meta.label}"
        )


def spec_for_customer(*, customer: Customer) -> CustomerSpec:
    """The customer's compiled mappings at its current configuration revision."""
    return _compile(customer.pk, customer.config_revision)


@lru_cache(maxsize=1024)
def _compile(customer_id: int, revision: int) -> CustomerSpec:
    fields_by_type: dict[int, list[FieldSpec]] = {}
    rows = (
        FieldMapping.objects.filter(data_point_type__customer_id=customer_id)
        .values("data_point_type_id", *FIELD_RULES, "references__data_point_type_id")
        .order_by("position", "id")
    )
    for row in rows:
        fields_by_type.setdefault(row["data_point_type_id"], []).append(
            FieldSpec(
                source=row["source_field"],
                cdp=row["cdp_field"],
                data_type=row["data_type"],
                fmt=row["format"],
                optional=row["optional"],
                hard_id=row["hard_id"],
                secondary_id=row["secondary_id"],
                references_type_id=row["references__data_point_type_id"],
            )
        )
    types = {
        t.name: TypeSpec(
            id=t.pk,
            customer_id=customer_id,
            name=t.name,
            category=t.category,
            active=t.active,
            version=t.version,
            fields=tuple(fields_by_type.get(t.pk, ())),
        )
        for t in DataPointType.objects.filter(customer_id=customer_id)
    }
    keys = list(
        GroupKey.objects.filter(customer_id=customer_id).values_list(
            "key", "id", "is_default"
        )
    )
    return CustomerSpec(
        customer_id=customer_id,
        revision=revision,
        types=types,
        group_keys={key: pk for key, pk, _ in keys},
        default_group_key=next((key for key, _, default in keys if default), None),
    )


def hard_id_key(values: list) -> str:
    """The canonical text of a Hard-ID's cleaned values, as stored and matched."""
    return "\x1f".join(str(v) for v in values)
