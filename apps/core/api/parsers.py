"""The API's only request parser: a JSON object, of bounded depth, holding no control characters.

Every view then reads `request.data` as a dict whatever the client sent: a bare string, number,
list or `null` is refused here with a 400, as is a body nested deeper than any Nimbo input
(the JSON decoder itself raises RecursionError on a deep one, which DRF's parser does not catch),
and any text with NUL or another control character (PostgreSQL cannot store NUL; ESC sequences
in a name would reach every terminal and log that prints it). Tab, newline and carriage return
stay allowed: descriptions and private keys hold them.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from apps.core.validators import CONTROL_CHARACTERS

MAX_DEPTH = 32


class BadBody(ParseError):
    """A parse error that names the field at fault (the exception handler puts it in `field`)."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def _path(parent, key):
    if isinstance(key, int):
        return f"{parent}[{key}]" if parent else f"[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def check_json_value(data):
    """Refuse a too-deep structure or a control character anywhere in it; walks without recursion."""
    stack = [(data, None, 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadBody(f"The body is nested more than {MAX_DEPTH} levels deep.", field=path)
        if isinstance(value, str):
            if CONTROL_CHARACTERS.search(value):
                raise BadBody("Control characters (NUL, ESC...) are not allowed.", field=path)
        elif isinstance(value, dict):
            for key, item in value.items():
                child = _path(path, key)
                if CONTROL_CHARACTERS.search(key):
                    raise BadBody("Control characters (NUL, ESC...) are not allowed in a key.", field=path)
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, _path(path, index), depth + 1) for index, item in enumerate(value))


class JSONObjectParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise BadBody(f"JSON parse error - the body is nested more than {MAX_DEPTH} levels deep.") from None
        if not isinstance(data, dict):
            raise BadBody(f"The body must be a JSON object, not {_json_type(data)}.")
        check_json_value(data)
        return data


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"


__all__ = ["JSONObjectParser", "check_json_value", "MAX_DEPTH"]
