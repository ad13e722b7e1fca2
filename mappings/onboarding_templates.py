"""Ready-made mappings for Sports and Retail customers, applied in one step, then edited.

Applying is idempotent: a type that exists keeps its fields as staff left them, and
only the template's missing fields are added. Events refer to their profile's Hard-ID.
"""

from dataclasses import dataclass, field

from django.db import transaction

from .models import Category, Customer, DataPointType, FieldMapping, GroupKey
from .versions import mapping_fields_add

DATETIME = "YYYY-MM-DD HH:MM:SS"


@dataclass(frozen=True)
class FieldTemplate:
    source: str
    data_type: str
    format: str = ""
    required: bool = False
    hard_id: bool = False
    secondary_id: bool = False
    # "type.source_field" of a profile's Hard-ID, for an event's link to its person.
    references: str = ""


@dataclass(frozen=True)
class TypeTemplate:
    name: str
    category: str
    description: str
    fields: tuple[FieldTemplate, ...]


@dataclass(frozen=True)
class Template:
    key: str
    label: str
    description: str
    types: tuple[TypeTemplate, ...]


def _hard_id(source: str) -> FieldTemplate:
    return FieldTemplate(source, "string", required=True, hard_id=True)


def _person(source: str, profile: str) -> FieldTemplate:
    """An event's required reference to its profile type's Hard-ID."""
    return FieldTemplate(source, "string", required=True, references=profile)


def _f(source: str, data_type: str = "string", fmt: str = "", **flags) -> FieldTemplate:
    return FieldTemplate(source, data_type, fmt, **flags)


_CONTACT = (
    _f("email", "email", secondary_id=True),
    _f("phone", "phone"),
    _f("first_name"),
    _f("last_name"),
    _f("birth_date", "date"),
    _f("postal_code"),
    _f("city"),
    _f("country"),
)

SPORTS = Template(
    key="sports",
    label="Sports",
    description="Supporters; ticket purchases, stadium access, food and beverage; "
    "match tickets.",
    types=(
        TypeTemplate(
            "supporter",
            Category.PROFILE,
            "A supporter of the club.",
            (
                _hard_id("supporter_id"),
                *_CONTACT,
                _f("member_number", secondary_id=True),
                _f("is_member", "boolean", "Yes/No"),
                _f("season_ticket_holder", "boolean", "Yes/No"),
                _f("membership_level"),
                _f("registered_at", "datetime", DATETIME),
            ),
        ),
        TypeTemplate(
            "ticket_purchase",
            Category.EVENT,
            "Match tickets bought.",
            (
                _hard_id("purchase_id"),
                _person("supporter_id", "supporter.supporter_id"),
                _f("purchased_at", "datetime", DATETIME, required=True),
                _f("match_id", required=True),
                _f("ticket_type"),
                _f("section"),
                _f("seat"),
                _f("quantity", "integer", required=True),
                _f("total_amount", "decimal", required=True),
                _f("currency"),
                _f("channel"),
            ),
        ),
        TypeTemplate(
            "stadium_access",
            Category.EVENT,
            "A ticket scanned at a gate.",
            (
                _hard_id("access_id"),
                _person("supporter_id", "supporter.supporter_id"),
                _f("match_id", required=True),
                _f("scanned_at", "datetime", DATETIME, required=True),
                _f("gate"),
                _f("ticket_id"),
            ),
        ),
        TypeTemplate(
            "food_beverage_purchase",
            Category.EVENT,
            "Food and drink bought at a kiosk on match day.",
            (
                _hard_id("purchase_id"),
                _person("supporter_id", "supporter.supporter_id"),
                _f("purchased_at", "datetime", DATETIME, required=True),
                _f("match_id"),
                _f("kiosk"),
                _f("products", "list"),
                _f("total_amount", "decimal", required=True),
                _f("currency"),
                _f("payment_method"),
            ),
        ),
        TypeTemplate(
            "match_ticket",
            Category.INVENTORY,
            "A match with tickets on sale.",
            (
                _hard_id("match_id"),
                _f("home_team", required=True),
                _f("away_team", required=True),
                _f("kickoff", "datetime", DATETIME, required=True),
                _f("venue"),
                _f("competition"),
                _f("capacity", "integer"),
                _f("tickets_available", "integer"),
                _f("price_from", "decimal"),
                _f("currency"),
            ),
        ),
    ),
)

RETAIL = Template(
    key="retail",
    label="Retail",
    description="Customers; purchases and returns; products.",
    types=(
        TypeTemplate(
            "customer",
            Category.PROFILE,
            "A customer of the shop.",
            (
                _hard_id("customer_id"),
                *_CONTACT,
                _f("is_member", "boolean", "Yes/No"),
                _f("member_level"),
                _f("registered_at", "datetime", DATETIME),
            ),
        ),
        TypeTemplate(
            "purchase",
            Category.EVENT,
            "An order, in store or online.",
            (
                _hard_id("order_id"),
                _person("customer_id", "customer.customer_id"),
                _f("purchased_at", "datetime", DATETIME, required=True),
                _f("total_amount", "decimal", required=True),
                _f("discount_amount", "decimal"),
                _f("currency"),
                _f("channel"),
                _f("store_id"),
                _f("payment_method"),
                _f("product_ids", "list"),
                _f("item_count", "integer"),
            ),
        ),
        TypeTemplate(
            "return",
            Category.EVENT,
            "Goods brought back for a refund.",
            (
                _hard_id("return_id"),
                _person("customer_id", "customer.customer_id"),
                _f("order_id", required=True),
                _f("returned_at", "datetime", DATETIME, required=True),
                _f("refund_amount", "decimal", required=True),
                _f("currency"),
                _f("product_id"),
                _f("quantity", "integer"),
                _f("reason"),
            ),
        ),
        TypeTemplate(
            "product",
            Category.INVENTORY,
            "A product in the catalogue.",
            (
                _hard_id("product_id"),
                _f("name", required=True),
                _f("category"),
                _f("subcategory"),
                _f("brand"),
                _f("size"),
                _f("color"),
                _f("price", "decimal"),
                _f("currency"),
                _f("in_stock", "boolean", "Yes/No"),
                _f("item_modified", "datetime", DATETIME),
            ),
        ),
    ),
)

TEMPLATES = {t.key: t for t in (SPORTS, RETAIL)}


@dataclass
class TemplateResult:
    """What applying a template did (or, in a preview, would do)."""

    template: Template
    created_types: list[str] = field(default_factory=list)
    added_fields: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    group_key_created: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.created_types or self.added_fields or self.group_key_created)


@transaction.atomic
def template_apply(*, customer: Customer, key: str, user) -> TemplateResult:
    """Creates the template's missing types and fields for the customer.

    Each type that changes gets one new mapping version; applying again changes nothing.
    """
    result = TemplateResult(TEMPLATES[key])
    if not customer.group_keys.exists():
        # A customer needs a default group key before v3 accepts anything.
        GroupKey.objects.create(customer=customer, key="main_group", is_default=True)
        result.group_key_created = True
    for type_template in result.template.types:
        _type_apply(customer, type_template, user, result)
    return result


class _Preview(Exception):
    def __init__(self, result: TemplateResult):
        self.result = result


def template_preview(*, customer: Customer, key: str) -> TemplateResult:
    """What template_apply would do, found by applying it and rolling it back."""
    try:
        with transaction.atomic():
            raise _Preview(template_apply(customer=customer, key=key, user=None))
    except _Preview as preview:
        return preview.result


def _type_apply(customer, template: TypeTemplate, user, result: TemplateResult):
    dpt, created = DataPointType.objects.get_or_create(
        customer=customer,
        name=template.name,
        # version 0: nothing saved yet, so the template's fields become version 1
        defaults={
            "category": template.category,
            "description": template.description,
            "version": 0,
        },
    )
    if dpt.category != template.category:
        result.skipped.append(
            f"{template.name}: exists as a {dpt.category} type; left as it is."
        )
        return
    existing = set(dpt.fields.values_list("source_field", flat=True))
    cdp_names = set(dpt.fields.values_list("cdp_field", flat=True))
    new = [
        _field(dpt, spec, result)
        for spec in template.fields
        if spec.source not in existing and spec.source not in cdp_names
    ]
    if created:
        result.created_types.append(template.name)
    if new:
        result.added_fields[template.name] = [f.source_field for f in new]
        mapping_fields_add(data_point_type=dpt, fields=new, user=user, activate=created)


def _field(dpt: DataPointType, spec: FieldTemplate, result) -> FieldMapping:
    field = FieldMapping(
        data_point_type=dpt,
        source_field=spec.source,
        cdp_field=spec.source,
        data_type=spec.data_type,
        format=spec.format,
        optional=not spec.required,
        hard_id=spec.hard_id,
        secondary_id=spec.secondary_id,
        references=_reference(dpt.customer_id, spec, result),
    )
    field.full_clean(exclude=["position"])
    return field


def _reference(customer_id: int, spec: FieldTemplate, result) -> FieldMapping | None:
    if not spec.references:
        return None
    type_name, source = spec.references.split(".")
    target = FieldMapping.objects.filter(
        data_point_type__customer_id=customer_id,
        data_point_type__name=type_name,
        source_field=source,
        hard_id=True,
    ).first()
    if (
        target is None
        or target.data_type != spec.data_type
        or target.data_point_type.fields.filter(hard_id=True).count() != 1
    ):
        result.skipped.append(
            f"{spec.source}: not linked to {spec.references}, which is not the only "
            f"Hard-ID (a {spec.data_type}) of its type here; link it by hand."
        )
        return None
    return target
