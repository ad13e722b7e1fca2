"""Validation and storage of v3 products for the sandbox (reference §7.2, §10 item 19).

Problem messages follow the docs' formats (reference §7.5), with the product's index
in the field name so a client can tell which product is at fault.
"""

from typing import Any
from urllib.parse import urlsplit

from .core import Store, is_int, is_number, now_ms

# Required text fields and their maximum lengths. productId's limit is unverified: the
# official SDK's tests show 128 characters rejected.
REQUIRED_TEXT = {"productId": 100, "name": 255, "mainCategory": 255}
# Longer values are trimmed with a reason-12 warning rather than rejected.
TRIMMED_TEXT = {"description": 2048}
SYSTEM_TEXT = {"brand": 255, "manufacturer": 100, "season": 40, "color": 40}
NUMBERS = ("price", "discountPrice", "unitPrice", "quantity")
BOOLEANS = ("available", "active")
URLS = ("productUrl", "mainImageUrl")
SYSTEM_INTS = ("popularity", "gender")
SYSTEM_BOOLEANS = ("bestseller", "newProduct")
CUSTOM_DETAILS = frozenset(f"detail{n}" for n in range(1, 6))
CUSTOM_LIMIT = 255
_NESTED = ("systemDetails", "customDetails")


def problem(reason_code: int, message: str) -> dict:
    """One entry of a v3 ``problems`` array."""
    return {"reasonCode": reason_code, "message": message}


def check_product(product: Any, path: str, problems: list[dict]) -> dict:
    """The product as it would be stored (values trimmed); appends every problem."""
    if not isinstance(product, dict):
        problems.append(problem(14, f"{path}:object|Wrong field type"))
        return {}
    cleaned = {k: v for k, v in product.items() if v is not None}
    if is_int(cleaned.get("productId")):
        cleaned["productId"] = str(cleaned["productId"])
    _check_required(cleaned, path, problems)
    _check_types(cleaned, path, problems)
    _check_urls(cleaned, path, problems)
    _trim(cleaned, TRIMMED_TEXT, path, problems)
    _check_system_details(
        cleaned.get("systemDetails"), f"{path}.systemDetails", problems
    )
    _check_custom_details(
        cleaned.get("customDetails"), f"{path}.customDetails", problems
    )
    return cleaned


def _check_required(product: dict, path: str, problems: list[dict]) -> None:
    for key, limit in REQUIRED_TEXT.items():
        value = product.get(key)
        if value in (None, ""):
            problems.append(problem(13, f"{path}.{key}|Required field is missing"))
        elif not isinstance(value, str):
            problems.append(problem(14, f"{path}.{key}:string|Wrong field type"))
        elif len(value) > limit:
            message = f"{path}.{key}|min:1|max:{limit}|Field exceeds limit"
            problems.append(problem(11, message))


def _check_types(product: dict, path: str, problems: list[dict]) -> None:
    expected = [(k, "number", is_number) for k in NUMBERS]
    expected += [(k, "boolean", _is_bool) for k in BOOLEANS]
    expected += [(k, "array", _is_strings) for k in ("categories", "setAsNull")]
    expected += [("categoryExternalId", "string", _is_text)]
    expected += [("description", "string", _is_text)]
    expected += [(k, "object", _is_object) for k in _NESTED]
    for key, kind, check in expected:
        if key in product and not check(product[key]):
            problems.append(problem(14, f"{path}.{key}:{kind}|Wrong field type"))
            product.pop(key)


def _check_urls(product: dict, path: str, problems: list[dict]) -> None:
    bad = "|Value not matching a required structure (URL)"
    for key in URLS:
        if key in product and not is_url(product[key]):
            problems.append(problem(18, f"{path}.{key}{bad}"))
    images = product.get("imageUrls")
    if images is not None and not isinstance(images, list):
        problems.append(problem(14, f"{path}.imageUrls:array|Wrong field type"))
        return
    for index, url in enumerate(images or []):
        if not is_url(url):
            problems.append(problem(18, f"{path}.imageUrls[{index}]{bad}"))


def _check_system_details(details: Any, path: str, problems: list[dict]) -> None:
    if not isinstance(details, dict):
        return
    for key in SYSTEM_TEXT:
        if key in details and not isinstance(details[key], str):
            problems.append(problem(14, f"{path}.{key}:string|Wrong field type"))
    _trim(details, SYSTEM_TEXT, path, problems)
    for key in SYSTEM_INTS:
        if key in details and not is_int(details[key]):
            problems.append(problem(14, f"{path}.{key}:integer|Wrong field type"))
    for key in SYSTEM_BOOLEANS:
        if key in details and not isinstance(details[key], bool):
            problems.append(problem(14, f"{path}.{key}:boolean|Wrong field type"))


def _check_custom_details(details: Any, path: str, problems: list[dict]) -> None:
    if not isinstance(details, dict):
        return
    for key, value in details.items():
        if key not in CUSTOM_DETAILS:
            problems.append(
                problem(14, f"{path}.{key}|Unknown field; detail1 to detail5 exist")
            )
        elif not _is_text(value):
            problems.append(problem(14, f"{path}.{key}:string|Wrong field type"))
        elif len(str(value)) > CUSTOM_LIMIT:
            message = f"{path}.{key}|min:0|max:{CUSTOM_LIMIT}|Field exceeds limit"
            problems.append(problem(11, message))


def _trim(container: dict, limits: dict[str, int], path: str, problems: list) -> None:
    for key, limit in limits.items():
        value = container.get(key)
        if isinstance(value, str) and len(value) > limit:
            container[key] = value[:limit]
            problems.append(problem(12, f"{path}.{key}|max:{limit}|Data trimmed"))


def save_product(store: Store, catalog: dict, product: dict) -> None:
    """Creates or merges a validated product; setAsNull clears the fields it names."""
    key = (catalog["catalogId"], product["productId"])
    now = now_ms()
    stored = store.products.get(key)
    if stored is None:
        stored = {
            "catalogId": key[0],
            "clientId": catalog["clientId"],
            "createdOn": now,
        }
        store.products[key] = stored
    for name in _NESTED:
        if name in product:
            stored[name] = {**stored.get(name, {}), **product[name]}
    plain = {k: v for k, v in product.items() if k not in (*_NESTED, "setAsNull")}
    stored.update(plain, modifiedOn=now)
    for field in product.get("setAsNull") or []:
        stored.pop(field, None)
        for name in _NESTED:
            stored.get(name, {}).pop(field, None)


def is_url(value: Any) -> bool:
    """An absolute http(s) URL, roughly what Apache's UrlValidator accepts."""
    if not isinstance(value, str) or " " in value:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or is_int(value)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
