"""DynamoDB attribute values <-> plain JSON, exactly.

The transform turns every typed DynamoDB image (``{"price": {"N": "1.50"}}``)
into *plain JSON text* (``{"price":1.50}``) once, on the way into S3, so the
loader never decodes values one by one in Python: MariaDB receives the text
as is. Plain JSON cannot tell a string from binary or a list from a set, so
each plain document travels with a sparse *type map* naming only the values
that need it; with both, ``to_typed`` rebuilds the DynamoDB item exactly.

Value rules (part of the staging contract):

* N  -> a JSON number with the digits DynamoDB gave (never through float).
* S  -> JSON string.  BOOL -> true/false.  NULL -> null.
* B  -> the base64 text as a JSON string; type-map tag ``"B"``.
* M  -> JSON object;  L -> JSON array; nested to any depth.
* SS -> array of strings sorted by code point; tag ``"SS"``.
* NS -> array of numbers sorted by value; tag ``"NS"``.
* BS -> array of base64 strings sorted by their decoded bytes; tag ``"BS"``.

The type map mirrors the item: ``{"blob": "B", "meta": {"tags": "SS"},
"rows": {"3": "B"}}``. A string is a tag; an object descends into a map
attribute (by name) or a list element (by decimal index).
"""

from __future__ import annotations

import binascii
import json
import re
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import orjson

# JSON's number grammar. DynamoDB sends numbers in this form; anything else
# is normalised through Decimal (still exact) or refused.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_SET_TAGS = ("SS", "NS", "BS")

PlainItem = dict[str, Any]
TypeMap = dict[str, Any]


class BadValue(ValueError):
    """A typed DynamoDB value that cannot be converted; ``path`` says where."""

    def __init__(self, reason: str, path: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = path or []

    def __str__(self) -> str:
        where = ".".join(self.path)
        return f"{self.reason} at {where}" if where else self.reason


def number_text(text: object) -> str:
    """The JSON rendering of a DynamoDB number string, digits untouched when possible."""
    if type(text) is not str:
        raise BadValue(f"number must be a string, got {type(text).__name__}")
    if _JSON_NUMBER.fullmatch(text):
        return text
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadValue(f"not a number: {text[:40]!r}") from None
    if not value.is_finite():
        raise BadValue(f"not a finite number: {text[:40]!r}")
    return str(value)


def canonical_number(text: str) -> str:
    """One spelling per numeric value (``1.50`` and ``1.5E0`` -> ``1.5``), for key identity."""
    value = Decimal(number_text(text))
    if value == 0:
        return "0"
    # normalize() rounds to the context precision (28 by default); DynamoDB
    # numbers carry up to 38 digits, so give it exactly as many as the value has.
    exact = Context(prec=len(value.as_tuple().digits))
    return format(value.normalize(exact), "f")


def _binary(text: object) -> str:
    if type(text) is not str:
        raise BadValue("binary must be base64 text")
    try:
        binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise BadValue("binary value is not valid base64") from None
    return text


def _set(tag: str, members: object) -> list[Any]:
    if type(members) is not list or not members:
        raise BadValue(f"{tag} must be a non-empty list")
    if tag == "SS":
        for m in members:
            if type(m) is not str:
                raise BadValue("SS members must be strings")
        return sorted(members)
    if tag == "NS":
        texts = [number_text(m) for m in members]
        texts.sort(key=Decimal)
        return [orjson.Fragment(t) for t in texts]
    texts = [_binary(m) for m in members]
    texts.sort(key=binascii.a2b_base64)
    return texts


def _plain(av: object, types: TypeMap, name: str) -> Any:
    """Convert one typed value; record a tag in ``types[name]`` when plain JSON is ambiguous."""
    if type(av) is not dict or len(av) != 1:
        raise BadValue("attribute value must be an object with exactly one type tag")
    ((tag, v),) = av.items()
    if tag == "S":
        if type(v) is not str:
            raise BadValue("S value must be a string")
        return v
    if tag == "N":
        return orjson.Fragment(number_text(v))
    if tag == "M":
        if type(v) is not dict:
            raise BadValue("M value must be an object")
        sub: TypeMap = {}
        out = _plain_map(v, sub, {})
        if sub:
            types[name] = sub
        return out
    if tag == "L":
        if type(v) is not list:
            raise BadValue("L value must be a list")
        sub = {}
        items = _plain_list(v, sub, [None] * len(v))
        if sub:
            types[name] = sub
        return items
    if tag == "BOOL":
        if type(v) is not bool:
            raise BadValue("BOOL value must be true or false")
        return v
    if tag == "NULL":
        if v is not True:
            raise BadValue("NULL value must be true")
        return None
    if tag == "B":
        types[name] = "B"
        return _binary(v)
    if tag in _SET_TAGS:
        types[name] = tag
        return _set(tag, v)
    raise BadValue(f"unknown type tag {str(tag)[:20]!r}")


# The hot path: S, N, M, L and BOOL (nearly every value of a real item) are
# handled inline below; everything else, and every error, goes through _plain.
_Fragment = orjson.Fragment
_is_json_number = _JSON_NUMBER.fullmatch


def _plain_map(m: dict[str, Any], types: TypeMap, out: dict[str, Any]) -> dict[str, Any]:
    """The plain values of map ``m``, written into ``out``: a new dict, or ``m`` itself
    to convert in place (each key then only gets a new value: no resizing, no new dict)."""
    k = ""
    try:
        for k, x in m.items():
            # Membership tests on a one-entry dict are cheaper than unpacking
            # its items; anything unusual falls through to _plain, which checks all.
            if type(x) is dict and len(x) == 1:
                if "S" in x:
                    v = x["S"]
                    if type(v) is str:
                        out[k] = v
                        continue
                elif "N" in x:
                    v = x["N"]
                    # a non-negative integer in JSON's grammar, the common number, is
                    # checked inline without the regex
                    if type(v) is str and (
                        (v.isdigit() and v.isascii() and (v[0] != "0" or len(v) == 1))
                        or _is_json_number(v)
                    ):
                        out[k] = _Fragment(v)
                        continue
                elif "M" in x:
                    v = x["M"]
                    if type(v) is dict:
                        sub: TypeMap = {}
                        out[k] = _plain_map(v, sub, v if out is m else {})
                        if sub:
                            types[k] = sub
                        continue
                elif "L" in x:
                    v = x["L"]
                    if type(v) is list:
                        sub = {}
                        out[k] = _plain_list(v, sub, v if out is m else [None] * len(v))
                        if sub:
                            types[k] = sub
                        continue
                elif "BOOL" in x:
                    v = x["BOOL"]
                    if type(v) is bool:
                        out[k] = v
                        continue
            out[k] = _plain(x, types, k)
    except BadValue as e:
        e.path.insert(0, k)
        raise
    return out


def _plain_list(values: list[Any], types: TypeMap, out: list[Any]) -> list[Any]:
    """The plain values of list ``values``, written into ``out``: a list of the same
    length, or ``values`` itself to convert in place."""
    i = 0
    try:
        for i, x in enumerate(values):
            if type(x) is dict and len(x) == 1:
                if "S" in x:
                    v = x["S"]
                    if type(v) is str:
                        out[i] = v
                        continue
                elif "N" in x:
                    v = x["N"]
                    # a non-negative integer in JSON's grammar, the common number, is
                    # checked inline without the regex
                    if type(v) is str and (
                        (v.isdigit() and v.isascii() and (v[0] != "0" or len(v) == 1))
                        or _is_json_number(v)
                    ):
                        out[i] = _Fragment(v)
                        continue
                elif "M" in x:
                    v = x["M"]
                    if type(v) is dict:
                        sub: TypeMap = {}
                        out[i] = _plain_map(v, sub, v if out is values else {})
                        if sub:
                            types[str(i)] = sub
                        continue
            out[i] = _plain(x, types, str(i))
    except BadValue as e:
        e.path.insert(0, str(i))
        raise
    return out


def to_plain(image: object, *, in_place: bool = False) -> tuple[bytes, TypeMap]:
    """Typed DynamoDB image -> (plain JSON bytes, type map). Raises ``BadValue``.

    ``in_place``: convert the image's own dicts and lists as the walk goes, which
    is faster; for a caller that has no further use for the image (it is left
    part-converted when ``BadValue`` is raised).
    """
    if type(image) is not dict:
        raise BadValue("image must be an object of attributes")
    types: TypeMap = {}
    plain = _plain_map(image, types, image if in_place else {})
    return orjson.dumps(plain), types


def key_value(av: object) -> tuple[str, Any]:
    """A key attribute value -> (type letter S|N|B, plain value with a canonical number)."""
    if type(av) is not dict or len(av) != 1:
        raise BadValue("key value must be an object with exactly one type tag")
    ((tag, v),) = av.items()
    if tag == "S" and type(v) is str:
        return "S", v
    if tag == "N":
        return "N", orjson.Fragment(canonical_number(v))
    if tag == "B":
        return "B", _binary(v)
    raise BadValue(f"key attributes must be S, N or B, got {str(tag)[:20]!r}")


def wire_value(av: dict[str, Any]) -> dict[str, Any]:
    """A boto3-parsed attribute value (binary as bytes) -> its JSON wire form (base64 text)."""
    ((tag, v),) = av.items()
    if tag == "B":
        return {"B": binascii.b2a_base64(bytes(v), newline=False).decode()}
    if tag == "BS":
        return {"BS": [binascii.b2a_base64(bytes(x), newline=False).decode() for x in v]}
    if tag == "M":
        return {"M": {k: wire_value(x) for k, x in v.items()}}
    if tag == "L":
        return {"L": [wire_value(x) for x in v]}
    return {tag: v}


class _Num(str):
    """Number text kept verbatim while parsing plain JSON (no float on the way back)."""


def loads_exact(text: str | bytes) -> Any:
    """Parse plain JSON keeping every number as its text (``_Num``)."""
    return json.loads(text, parse_float=_Num, parse_int=_Num, parse_constant=_reject_constant)


def _reject_constant(name: str) -> Any:
    raise BadValue(f"{name} is not a DynamoDB value")


def _typed(v: Any, tag: Any) -> dict[str, Any]:
    if isinstance(tag, str):
        if tag == "NS":
            return {"NS": [str(x) for x in v]}
        return {tag: list(v) if tag in _SET_TAGS else v}
    if v is None:
        return {"NULL": True}
    if v is True or v is False:
        return {"BOOL": v}
    if isinstance(v, _Num):
        return {"N": str(v)}
    if isinstance(v, str):
        return {"S": v}
    sub = tag or {}
    if isinstance(v, dict):
        return {"M": {k: _typed(x, sub.get(k)) for k, x in v.items()}}
    if isinstance(v, list):
        return {"L": [_typed(x, sub.get(str(i))) for i, x in enumerate(v)]}
    raise BadValue(f"unexpected plain value {type(v).__name__}")


def to_typed(plain_text: str | bytes, types: TypeMap | None) -> dict[str, Any]:
    """Plain JSON text + type map -> the typed DynamoDB image it came from."""
    plain = loads_exact(plain_text)
    if not isinstance(plain, dict):
        raise BadValue("plain item must be a JSON object")
    types = types or {}
    return {k: _typed(x, types.get(k)) for k, x in plain.items()}
