"""The JSON parser of the API: exact decimals, and errors that say where the JSON breaks."""

import json
import re
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# PostgreSQL cannot store U+0000 in text or jsonb, and a lone surrogate is not Unicode:
# either would fail the insert after validation passed, so the parser refuses them.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """An object whose keys are all different: with a repeated key, json.loads would
    keep the last value, so two readers of one body could disagree (a Hard-ID)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                name = key if len(key) <= 100 else key[:99] + "…"
                raise ValueError(f'the key "{name}" appears twice in one object')
            seen.add(key)
    return value


class ApiJSONParser(JSONParser):
    """Parses numbers with a fraction as Decimal, so ``123.75`` stays exactly 123.75."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"The body is not UTF-8: byte {exc.start} cannot be decoded."
            ) from None
        try:
            parsed = json.loads(
                text,
                parse_float=Decimal,
                parse_constant=_reject_constant,
                object_pairs_hook=_unique_keys,
            )
        except json.JSONDecodeError as exc:
            raise ParseError(
                f"The body is not valid JSON: {exc.msg} at line {exc.lineno} "
                f"column {exc.colno} (character {exc.pos})."
            ) from None
        except ValueError as exc:
            raise ParseError(f"The body is not valid JSON: {exc}.") from None
        except RecursionError:
            parsed = None
            depth = None
        else:
            depth = _depth(parsed, settings.DATATALKS_MAX_JSON_DEPTH)
        if depth is None or depth > settings.DATATALKS_MAX_JSON_DEPTH:
            raise ParseError(
                "The body is nested deeper than the limit of "
                f"{settings.DATATALKS_MAX_JSON_DEPTH} levels."
            )
        # Both can only arrive as \u escapes: strict JSON refuses raw control
        # characters and UTF-8 decoding refuses encoded surrogates.
        if "\\u" in text and (where := unstorable(parsed)):
            raise ParseError(
                f"{where}: contains U+0000 or a lone surrogate (U+D800 to U+DFFF), "
                "which cannot be stored."
            )
        return parsed


def _depth(value, limit: int) -> int:
    """How deeply containers nest in ``value``, counting no further than limit + 1."""
    deepest, level = 0, [(value, 1)]
    while level:
        node, depth = level.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = node.values() if isinstance(node, dict) else node
            level.extend(
                (child, depth + 1)
                for child in children
                if isinstance(child, (dict, list))
            )
    return deepest


def unstorable(value) -> str | None:
    """The path of the first key or string holding a character that cannot be stored."""
    pending = [(value, "")]
    while pending:
        node, path = pending.pop()
        if isinstance(node, str) and _UNSTORABLE.search(node):
            return path or "body"
        if isinstance(node, dict):
            for key, child in node.items():
                if _UNSTORABLE.search(key):
                    return f"{path or 'body'} (a key)"
                pending.append((child, f"{path}.{key}".lstrip(".")[:200]))
        elif isinstance(node, list):
            pending.extend((child, f"{path}[{i}]") for i, child in enumerate(node))
    return None
