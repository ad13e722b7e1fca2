"""API v3 of the sandbox: the API-KEY header, catalogs and products (reference §7, §10).

A rejected request is HTTP 400 ``{"messages": [...], "reasonCode": n}``. Problems with
single products are HTTP 400 ``{"requestId", "problems": [...]}`` and nothing is stored;
when the only problems are reason-12 warnings (data trimmed) the answer is HTTP 200.
Problem messages name the product by index (``products[3].name|...``).
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..limits import MAX_PRODUCTS
from .core import (
    Options,
    Reply,
    SandboxAccount,
    Store,
    is_number,
    json_reply,
    new_id,
    now_ms,
)
from .products import check_product, problem, save_product

AUTH_FAILED = 10
TOO_LONG = 11
TRIMMED = 12
REQUIRED = 13
WRONG_TYPE = 14
NOT_FOUND = 16
ABOVE_LIMIT = 19
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class V3Failure(Exception):
    """Rejects a whole v3 request with one reason code."""

    def __init__(self, reason_code: int, *messages: str):
        super().__init__(*messages)
        self.reason_code = reason_code
        self.messages = list(messages)


@dataclass
class V3Call:
    """One authenticated v3 request."""

    store: Store
    options: Options
    account: SandboxAccount
    body: dict


Handler = Callable[[V3Call], tuple[int, dict]]


def handle_v3(
    store: Store, options: Options, method: str, path: str, headers: dict, raw: bytes
) -> Reply:
    """Authenticates a v3 request by its API-KEY header and runs its endpoint."""
    route = V3_ROUTES.get(path)
    if route is None:
        return json_reply(404, {"messages": [f"Unknown path {path}"]})
    allowed, handler = route
    if method != allowed:
        return json_reply(405, {"messages": [f"Only {allowed} is allowed"]})
    account = store.account_for_v3_key(headers.get("api-key", ""))
    if account is None:
        return _rejected(
            V3Failure(AUTH_FAILED, "Authentication failed: invalid API-KEY")
        )
    body: dict = {}
    try:
        body = _body(method, raw)
        status, data = handler(V3Call(store, options, account, body))
    except V3Failure as failure:
        reply = _rejected(failure)
    else:
        reply = json_reply(status, data)
    reply.client_id = account.client_id
    store.requests.append(
        {
            "method": method,
            "path": path,
            "status": reply.status,
            "clientId": account.client_id,
            "body": body,
        }
    )
    return reply


def _body(method: str, raw: bytes) -> dict:
    if method == "GET":
        return {}
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise V3Failure(WRONG_TYPE, "Specified json is not valid")
    return body


def _rejected(failure: V3Failure) -> Reply:
    data = {"messages": failure.messages, "reasonCode": failure.reason_code}
    return json_reply(400, data)


# -- catalogs ----------------------------------------------------------------------------


def catalog_list(call: V3Call) -> tuple[int, dict]:
    """The account's catalogs and how many it may have."""
    catalogs = [_public(c) for c in _catalogs(call)]
    return 200, {"catalogs": catalogs, "limits": {"max": call.options.catalog_limit}}


def catalog_upsert(call: V3Call) -> tuple[int, dict]:
    """Creates a catalog, or updates the one catalogId names."""
    body = call.body
    fields = _catalog_fields(body, creating=not body.get("catalogId"))
    if body.get("catalogId"):
        catalog = _catalog(call)
    elif len(_catalogs(call)) >= call.options.catalog_limit:
        raise V3Failure(ABOVE_LIMIT, "Trying to add a resource above available limit")
    else:
        catalog = {"catalogId": new_id(), "clientId": call.account.client_id}
        catalog.update(location="", setAsDefault=False)
        call.store.catalogs[catalog["catalogId"]] = catalog
    if fields.get("setAsDefault"):
        for other in _catalogs(call):
            other["setAsDefault"] = False
    catalog.update(fields)
    return 200, {"requestId": new_id(), "catalogId": catalog["catalogId"]}


def _catalog_fields(body: dict, *, creating: bool) -> dict:
    fields = {
        k: body[k]
        for k in ("name", "currency", "location", "setAsDefault")
        if k in body
    }
    for key in ("name", "currency"):
        if creating and not fields.get(key):
            raise V3Failure(REQUIRED, f"{key}|Required field is missing")
    if "name" in fields and (
        not isinstance(fields["name"], str) or len(fields["name"]) > 255
    ):
        raise V3Failure(TOO_LONG, "name|min:1|max:255|Field exceeds limit")
    if "currency" in fields and not _CURRENCY.match(str(fields["currency"])):
        raise V3Failure(
            18, "currency|Value not matching a required structure (ISO 4217)"
        )
    if "setAsDefault" in fields and not isinstance(fields["setAsDefault"], bool):
        raise V3Failure(WRONG_TYPE, "setAsDefault:boolean|Wrong field type")
    return fields


def catalog_delete(call: V3Call) -> tuple[int, dict]:
    """Removes a catalog and its products."""
    catalog = _catalog(call)
    del call.store.catalogs[catalog["catalogId"]]
    for key in [k for k in call.store.products if k[0] == catalog["catalogId"]]:
        del call.store.products[key]
    return 200, {"requestId": new_id(), "catalogId": catalog["catalogId"]}


def _catalogs(call: V3Call) -> list[dict]:
    client_id = call.account.client_id
    return [c for c in call.store.catalogs.values() if c["clientId"] == client_id]


def _catalog(call: V3Call) -> dict:
    """The catalog catalogId names, if it is this account's."""
    catalog_id = call.body.get("catalogId")
    if not catalog_id:
        raise V3Failure(REQUIRED, "catalogId|Required field is missing")
    catalog = call.store.catalogs.get(str(catalog_id))
    if catalog is None or catalog["clientId"] != call.account.client_id:
        raise V3Failure(NOT_FOUND, f"catalogId|No catalog {catalog_id} in this account")
    return catalog


def _public(catalog: dict) -> dict:
    return {k: v for k, v in catalog.items() if k != "clientId"}


# -- products ----------------------------------------------------------------------------


def product_upsert(call: V3Call) -> tuple[int, dict]:
    """Creates or updates 1..100 products; all or nothing, warnings aside."""
    catalog = _catalog(call)
    products = _products(call.body)
    call.store.count(call.account.client_id, "products", len(products))
    problems: list[dict] = []
    cleaned = [
        check_product(p, f"products[{i}]", problems) for i, p in enumerate(products)
    ]
    _check_unique(cleaned, problems)
    if any(p["reasonCode"] != TRIMMED for p in problems):
        return 400, {"requestId": new_id(), "problems": problems}
    for product in cleaned:
        save_product(call.store, catalog, product)
    answer = {"requestId": new_id(), "productIds": [p["productId"] for p in cleaned]}
    return 200, {**answer, "problems": problems} if problems else answer


def _check_unique(cleaned: list[dict], problems: list[dict]) -> None:
    seen: set[str] = set()
    for index, product in enumerate(cleaned):
        product_id = product.get("productId")
        if product_id in seen:
            problems.append(
                problem(15, f"products[{index}].productId|Value is not unique")
            )
        if product_id is not None:
            seen.add(product_id)


def _products(body: dict) -> list:
    products = body.get("products")
    if not isinstance(products, list):
        raise V3Failure(REQUIRED, "products|Required field is missing")
    if not 1 <= len(products) <= MAX_PRODUCTS:
        message = f"products|min:1|max:{MAX_PRODUCTS}|Field exceeds limit"
        raise V3Failure(TOO_LONG, message)
    return products


def product_update_quantity(call: V3Call) -> tuple[int, dict]:
    """Sets the quantity of existing products."""
    return _update(call, ("quantity",))


def product_update_price(call: V3Call) -> tuple[int, dict]:
    """Sets price and/or discountPrice of existing products."""
    return _update(call, ("price", "discountPrice"))


def _update(call: V3Call, fields: tuple[str, ...]) -> tuple[int, dict]:
    catalog = _catalog(call)
    items = _products(call.body)
    problems: list[dict] = []
    changes = []
    for index, item in enumerate(items):
        change = _update_item(call.store, catalog, item, f"products[{index}]", fields)
        if isinstance(change, dict):
            problems.append(change)
        else:
            changes.append(change)
    if problems:
        return 400, {"requestId": new_id(), "problems": problems}
    for stored, values in changes:
        stored.update(values, modifiedOn=now_ms())
    return 200, {"requestId": new_id()}


def _update_item(
    store: Store, catalog: dict, item: Any, path: str, fields: tuple[str, ...]
) -> dict | tuple[dict, dict]:
    """A problem, or (stored product, new values)."""
    if not isinstance(item, dict):
        return problem(WRONG_TYPE, f"{path}:object|Wrong field type")
    stored = store.products.get((catalog["catalogId"], str(item.get("productId"))))
    if stored is None:
        return problem(NOT_FOUND, f"{path}.productId|No such product in the catalog")
    values = {k: item[k] for k in fields if k in item}
    if not values:
        return problem(REQUIRED, f"{path}.{fields[0]}|Required field is missing")
    for key, value in values.items():
        if not (is_number(value) or (value is None and key == "discountPrice")):
            return problem(WRONG_TYPE, f"{path}.{key}:number|Wrong field type")
    return stored, values


V3_ROUTES: dict[str, tuple[str, Handler]] = {
    "/v3/product/catalogList": ("GET", catalog_list),
    "/v3/product/catalogUpsert": ("POST", catalog_upsert),
    "/v3/product/catalogDelete": ("POST", catalog_delete),
    "/v3/product/upsert": ("POST", product_upsert),
    "/v3/product/updateQuantity": ("POST", product_update_quantity),
    "/v3/product/updatePrice": ("POST", product_update_price),
}
