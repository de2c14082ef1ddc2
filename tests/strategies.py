"""Hypothesis strategies for DynamoDB data: typed values, items, key schemas, change records.

Shared by the contract, transform and loader tests. Values are what DynamoDB
can hold and send, chosen to break things: strings with tab, newline, CR,
backslash, quotes, NUL and 4-byte UTF-8; numbers with up to 38 significant
digits and exponents from -130 to +125 in every JSON spelling; binary as
base64; non-empty sets of unique members; maps and lists nested.
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

# Characters that have broken DynamoDB -> SQL pipelines before: JSON and TSV
# escapes, SQL quoting, NUL, and characters outside the BMP (4-byte UTF-8).
NASTY_CHARS = "\t\n\r\\\"'`\x00\x01\x1f\x7f%_,;é\u2028\u2029😀𝄞\U0010ffff"
KEY_LETTERS = ("S", "N", "B")
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def nasty_text(min_size: int = 0, max_size: int = 24) -> st.SearchStrategy[str]:
    """Text mixing the nasty characters with any Unicode scalar (no lone surrogates)."""
    alphabet = st.one_of(st.sampled_from(NASTY_CHARS), st.characters(exclude_categories=("Cs",)))
    return st.text(alphabet, min_size=min_size, max_size=max_size)


def attribute_names() -> st.SearchStrategy[str]:
    """Attribute names: any non-empty text, including ones that look like type tags."""
    return st.one_of(
        st.sampled_from(["S", "N", "M", "L", "B", "NULL", "0", "a.b"]), nasty_text(1, 12)
    )


@st.composite
def number_texts(draw: st.DrawFn) -> str:
    """A DynamoDB number in one of the JSON spellings: ``12``, ``-0.0012``, ``1.50``, ``9.9E+125``."""
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from(["0", "0.0", "0E+3"]))
    digits = draw(st.integers(1, 38))
    mantissa = str(draw(st.integers(1, 9))) + "".join(
        draw(st.lists(st.sampled_from("0123456789"), min_size=digits - 1, max_size=digits - 1))
    )
    # adjusted exponent: power of ten of the leading digit, DynamoDB's range
    adjusted = draw(st.one_of(st.integers(-130, 125), st.integers(-6, 40)))
    sign = draw(st.sampled_from(["", "-"]))
    point = adjusted + 1  # digits before the decimal point when written out plainly
    style = draw(st.sampled_from(["plain", "scientific"]))
    if style == "plain" and -8 <= point <= 45:
        if point <= 0:
            text = "0." + "0" * -point + mantissa
        elif point >= len(mantissa):
            text = mantissa + "0" * (point - len(mantissa))
        else:
            text = mantissa[:point] + "." + mantissa[point:]
        if "." in text and draw(st.booleans()):
            text += "0" * draw(st.integers(1, 3))  # trailing zeros: 1.50
        return sign + text
    head = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
    exp_sign = draw(st.sampled_from(["", "+"])) if adjusted >= 0 else "-"
    return f"{sign}{head}{draw(st.sampled_from('Ee'))}{exp_sign}{abs(adjusted)}"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def binary_texts(min_size: int = 0, max_size: int = 32) -> st.SearchStrategy[str]:
    return st.binary(min_size=min_size, max_size=max_size).map(b64)


def scalar_values() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        nasty_text().map(lambda s: {"S": s}),
        number_texts().map(lambda n: {"N": n}),
        binary_texts().map(lambda b: {"B": b}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        st.lists(nasty_text(), min_size=1, max_size=5, unique=True).map(lambda xs: {"SS": xs}),
        st.lists(number_texts(), min_size=1, max_size=5, unique_by=Decimal).map(
            lambda xs: {"NS": xs}
        ),
        st.lists(st.binary(max_size=16), min_size=1, max_size=5, unique=True).map(
            lambda xs: {"BS": [b64(x) for x in xs]}
        ),
    )


def attribute_values(max_leaves: int = 12) -> st.SearchStrategy[dict[str, Any]]:
    """Any typed DynamoDB attribute value, M and L nested."""
    return st.recursive(
        scalar_values(),
        lambda children: st.one_of(
            st.lists(children, max_size=4).map(lambda xs: {"L": xs}),
            st.dictionaries(attribute_names(), children, max_size=4).map(lambda d: {"M": d}),
        ),
        max_leaves=max_leaves,
    )


def items(max_size: int = 8) -> st.SearchStrategy[dict[str, Any]]:
    """A typed DynamoDB item (image): attribute name -> typed value."""
    return st.dictionaries(attribute_names(), attribute_values(), max_size=max_size)


def key_values(letter: str) -> st.SearchStrategy[dict[str, Any]]:
    """A key attribute value of type S, N or B (DynamoDB keys are never empty)."""
    if letter == "S":
        return nasty_text(1, 16).map(lambda s: {"S": s})
    if letter == "N":
        return number_texts().map(lambda n: {"N": n})
    return binary_texts(1, 16).map(lambda b: {"B": b})


@st.composite
def key_schemas(draw: st.DrawFn) -> dict[str, str]:
    """Key attribute name -> type letter: a partition key and maybe a sort key."""
    names = draw(st.lists(attribute_names(), min_size=1, max_size=2, unique=True))
    return {name: draw(st.sampled_from(KEY_LETTERS)) for name in names}


@st.composite
def keyed_items(
    draw: st.DrawFn, schema: dict[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Keys, item) where the item holds the key attributes with values of the key's type."""
    schema = schema or draw(key_schemas())
    keys = {name: draw(key_values(letter)) for name, letter in schema.items()}
    item = draw(items())
    item.update(keys)
    return keys, item


@st.composite
def change_records(
    draw: st.DrawFn,
    table: str | None = None,
    operations: tuple[str, ...] = ("INSERT", "MODIFY", "REMOVE"),
) -> dict[str, Any]:
    """A DynamoDB Kinesis-destination change record (the decoded ``data`` of a Kinesis record)."""
    op = draw(st.sampled_from(operations))
    keys, item = draw(keyed_items())
    micro = draw(st.booleans())
    created = draw(st.integers(1_500_000_000_000, 2_500_000_000_000))
    body: dict[str, Any] = {"Keys": keys, "SizeBytes": draw(st.integers(1, 400_000))}
    if micro:
        body["ApproximateCreationDateTime"] = created * 1000 + draw(st.integers(0, 999))
        body["ApproximateCreationDateTimePrecision"] = "MICROSECOND"
    else:
        body["ApproximateCreationDateTime"] = created
    if op != "REMOVE":
        body["NewImage"] = item
    if op != "INSERT":
        # the transform never reads OldImage; a small one keeps generation cheap
        body["OldImage"] = {**keys, "previous": {"S": "old"}}
    record: dict[str, Any] = {
        "awsRegion": "us-east-1",
        "eventID": draw(st.uuids()).hex,
        "eventName": op,
        "userIdentity": TTL_IDENTITY if op == "REMOVE" and draw(st.booleans()) else None,
        "recordFormat": "application/json",
        "tableName": table or draw(st.from_regex(r"[A-Za-z0-9_.\-]{3,20}", fullmatch=True)),
        "dynamodb": body,
        "eventSource": "aws:dynamodb",
    }
    return record


def comparable(image: dict[str, Any] | None) -> Any:
    """An image with every set's members in one order, so equal items compare equal."""
    if image is None:
        return None
    return {name: _comparable_value(av) for name, av in image.items()}


def _comparable_value(av: dict[str, Any]) -> dict[str, Any]:
    ((tag, v),) = av.items()
    if tag == "SS":
        return {tag: sorted(v)}
    if tag == "NS":
        return {tag: sorted(v, key=lambda n: (Decimal(n), n))}
    if tag == "BS":
        return {tag: sorted(v, key=binascii.a2b_base64)}
    if tag == "M":
        return {tag: comparable(v)}
    if tag == "L":
        return {tag: [_comparable_value(x) for x in v]}
    return {tag: v}
