"""The JSON parser of the API: exact decimals, and errors that say where the JSON breaks."""

import json
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


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
            return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            raise ParseError(
                f"The body is not valid JSON: {exc.msg} at line {exc.lineno} "
                f"column {exc.colno} (character {exc.pos})."
            ) from None
        except ValueError as exc:
            raise ParseError(f"The body is not valid JSON: {exc}.") from None
        except RecursionError:
            raise ParseError("The body is not valid JSON: it is nested too deeply.") from None
