"""contract.values: typed DynamoDB values <-> plain JSON text + type map, exactly."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import values
from tests import strategies as ddb


@given(ddb.items())
def test_any_item_round_trips_through_plain_json(item):
    # GIVEN any DynamoDB item
    # WHEN it goes to plain JSON + type map and back
    plain, types = values.to_plain(item)
    back = values.to_typed(plain, types)
    # THEN it is the same item (set members may come back in another order)
    assert ddb.comparable(back) == ddb.comparable(item)


@given(ddb.items())
def test_converting_in_place_gives_the_same_text_and_types(item):
    # GIVEN any item and a copy of it that the caller gives up
    before = orjson.dumps(item)
    given_up = orjson.loads(before)
    # WHEN one is converted as a copy and the other in place
    # THEN both give the same plain text and type map, and the copied one is untouched
    assert values.to_plain(given_up, in_place=True) == values.to_plain(item)
    assert orjson.dumps(item) == before


@given(ddb.items())
def test_plain_text_is_json_a_database_can_read(item):
    # GIVEN any item WHEN converted THEN the text is valid UTF-8 JSON with the same attributes
    plain, _ = values.to_plain(item)
    assert set(orjson.loads(plain)) == set(item)


@given(ddb.number_texts())
def test_numbers_keep_every_digit(text):
    # GIVEN a DynamoDB number with up to 38 digits WHEN converted THEN its text is untouched
    plain, types = values.to_plain({"n": {"N": text}})
    assert plain == b'{"n":' + text.encode() + b"}"
    assert types == {}
    assert values.to_typed(plain, types) == {"n": {"N": text}}


def test_type_map_names_only_values_plain_json_cannot_tell_apart():
    # GIVEN an item with binary, sets and plain values nested in maps and lists
    item = {
        "s": {"S": "x"},
        "blob": {"B": "AAE="},
        "meta": {"M": {"tags": {"SS": ["b", "a"]}, "n": {"N": "1"}}},
        "rows": {"L": [{"S": "y"}, {"NS": ["10", "9.5"]}, {"BS": ["Ag==", "AQ=="]}]},
    }
    # WHEN converted
    plain, types = values.to_plain(item)
    # THEN the type map holds exactly the ambiguous values and the sets are ordered
    assert types == {"blob": "B", "meta": {"tags": "SS"}, "rows": {"1": "NS", "2": "BS"}}
    assert orjson.loads(plain) == {
        "s": "x",
        "blob": "AAE=",
        "meta": {"tags": ["a", "b"], "n": 1},
        "rows": ["y", [9.5, 10], ["AQ==", "Ag=="]],
    }


def test_number_outside_json_grammar_keeps_its_value():
    # GIVEN spellings JSON does not allow WHEN converted THEN the value is kept exactly
    for text in ("+5", ".5", "5.", "1.E3", "0001"):
        plain, _ = values.to_plain({"n": {"N": text}})
        back = values.to_typed(plain, {})["n"]["N"]
        assert Decimal(back) == Decimal(text)


@pytest.mark.parametrize(
    ("image", "reason", "path"),
    [
        ({"a": {"X": "1"}}, "unknown type tag 'X'", ["a"]),
        ({"a": {"M": {"b": {"L": [{"N": "abc"}]}}}}, "not a number", ["a", "b", "0"]),
        ({"a": {"N": "NaN"}}, "not a finite number", ["a"]),
        ({"a": {"N": 5}}, "number must be a string", ["a"]),
        ({"a": {"B": "not base64!"}}, "binary value is not valid base64", ["a"]),
        ({"a": {"SS": []}}, "SS must be a non-empty list", ["a"]),
        ({"a": {"S": "x", "N": "1"}}, "exactly one type tag", ["a"]),
        ({"a": {"NULL": False}}, "NULL value must be true", ["a"]),
        ({"a": {"BOOL": "true"}}, "BOOL value must be true or false", ["a"]),
    ],
)
@pytest.mark.parametrize("in_place", [False, True])
def test_bad_values_are_refused_with_reason_and_path(image, reason, path, in_place):
    # GIVEN a malformed typed value WHEN converted THEN BadValue says what and where
    with pytest.raises(values.BadValue) as caught:
        values.to_plain(orjson.loads(orjson.dumps(image)), in_place=in_place)
    assert reason in caught.value.reason
    assert caught.value.path == path


@given(ddb.number_texts())
def test_canonical_number_is_the_same_value(text):
    # GIVEN any number WHEN canonicalised THEN the value is unchanged, with no exponent
    canon = values.canonical_number(text)
    assert Decimal(canon) == Decimal(text)
    assert "E" not in canon and "e" not in canon


@given(st.integers(1, 10**38 - 1), st.integers(-5, 5))
def test_canonical_number_is_one_spelling_per_value(digits, shift):
    # GIVEN two spellings of one value (trailing zeros, exponent) with up to 38 digits
    a = f"{digits}E{shift}"
    if shift >= 0:
        b = str(digits) + "0" * shift + ".00"
    else:
        padded = str(digits).rjust(-shift + 1, "0")
        b = padded[:shift] + "." + padded[shift:] + "0"
    # THEN they canonicalise to the same text, and a neighbour does not
    assert values.canonical_number(a) == values.canonical_number(b)
    assert values.canonical_number(f"{digits + 1}E{shift}") != values.canonical_number(a)


def test_loads_exact_keeps_number_text():
    parsed = values.loads_exact(b'{"a":1.50,"b":[12345678901234567890123456789012345678]}')
    assert parsed["a"] == "1.50"
    assert parsed["b"][0] == "12345678901234567890123456789012345678"
