"""The data type parsers: good and bad values, and properties that hold for any input."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given
from hypothesis import strategies as st

from mappings.types import (
    PARSERS,
    Invalid,
    boolean_words,
    check_format,
    parse_boolean,
    parse_datetime,
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.floats()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


def parse(data_type, value, fmt=""):
    return PARSERS[data_type](value, fmt)


@pytest.mark.parametrize(
    "data_type,value,stored",
    [
        ("string", "Juliana", "Juliana"),
        ("string", 12345, "12345"),
        ("string", Decimal("1.50"), "1.50"),
        ("integer", 12345, 12345),
        ("integer", "12345", 12345),
        ("integer", "-7", -7),
        ("decimal", "123.75", "123.75"),
        ("decimal", Decimal("112.00"), "112.00"),
        ("decimal", 3, "3"),
        ("float", "1.5", 1.5),
        ("float", Decimal("2.25"), 2.25),
        ("boolean", True, True),
        ("date", "2021-03-18", "2021-03-18"),
        ("date", "2024-02-29", "2024-02-29"),
        ("datetime", "2021-03-18 11:35:24", "2021-03-18T11:35:24"),
        ("datetime", "2021-03-18T11:35:24", "2021-03-18T11:35:24"),
        ("email", "juliana.crane@fake.com", "juliana.crane@fake.com"),
        ("phone", "+46 70 123 45 67", "+46 70 123 45 67"),
        ("phone", "not a number at all", "not a number at all"),
        ("list", ["TAG1", "TAG2"], ["TAG1", "TAG2"]),
        ("list", [], []),
    ],
)
def test_accepts_good_values(data_type, value, stored):
    assert parse(data_type, value) == stored


@pytest.mark.parametrize(
    "data_type,value,message",
    [
        ("string", True, "is not a string"),
        ("string", ["a"], "is not a string"),
        ("string", {"a": 1}, "is not a string"),
        ("integer", Decimal("1.5"), "is not an integer"),
        ("integer", "1.5", "is not an integer"),
        ("integer", True, "is not an integer"),
        ("integer", "12 345", "is not an integer"),
        ("integer", 2**63, "out of range"),
        ("decimal", "abc", "is not a decimal"),
        ("decimal", "NaN", "is not a finite decimal"),
        ("decimal", "Infinity", "is not a finite decimal"),
        ("decimal", False, "is not a decimal"),
        ("float", "inf", "is not a finite number"),
        ("boolean", "maybe", "is not a boolean"),
        ("boolean", 1, "is not a boolean"),
        ("date", "2021-02-30", "is not a real calendar date"),
        ("date", "18/03/2021", "YYYY-MM-DD"),
        ("date", "2021-03-18 11:35:24", "YYYY-MM-DD"),
        ("date", 20210318, "YYYY-MM-DD"),
        ("datetime", "2021-03-18", "is not a datetime in the format"),
        ("datetime", "2021-13-18 11:35:24", "is not a datetime in the format"),
        ("email", "mma a@gma.com", "is not a valid email address"),
        ("email", '"cogwheel the orange"@example.com', "is not a valid email address"),
        ("email", "no-at-sign", "is not a valid email address"),
        ("list", "TAG1", "is not a list"),
        ("list", [["nested"]], "scalars"),
    ],
)
def test_rejects_bad_values(data_type, value, message):
    with pytest.raises(Invalid, match=message):
        parse(data_type, value)


@pytest.mark.parametrize("value", ["2021-03-18 11:35:24Z", "2021-03-18T11:35:24+01:00"])
def test_rejects_timezone_in_datetime(value):
    with pytest.raises(Invalid, match="time zones are not allowed"):
        parse_datetime(value, "")


def test_datetime_follows_the_field_format():
    assert (
        parse_datetime("2021-03-18 11:35", "YYYY-MM-DD HH:MM") == "2021-03-18T11:35:00"
    )
    assert (
        parse_datetime("18.03.2021 11:35", "DD.MM.YYYY HH:MM") == "2021-03-18T11:35:00"
    )
    with pytest.raises(Invalid):
        parse_datetime("2021-03-18 11:35:24", "YYYY-MM-DD HH:MM")


@pytest.mark.parametrize("word,expected", [("Yes", True), ("no", False), ("YES", True)])
def test_boolean_takes_format_words_case_insensitively(word, expected):
    assert parse_boolean(word, "Yes/No") is expected


def test_boolean_words_come_from_the_format():
    assert parse_boolean("Ja", "Ja/Nej") is True
    with pytest.raises(Invalid, match="ja/nej"):
        parse_boolean("Yes", "ja/nej")


@pytest.mark.parametrize(
    "data_type,fmt",
    [
        ("datetime", "HH:MM"),
        ("datetime", "nonsense"),
        ("boolean", "Yes"),
        ("boolean", "Yes/yes"),
        ("integer", "whatever"),
        ("date", "DD/MM/YYYY"),
    ],
)
def test_rejects_formats_that_do_not_parse(data_type, fmt):
    with pytest.raises(ValueError):
        check_format(data_type, fmt)


@pytest.mark.parametrize(
    "data_type,fmt",
    [
        ("datetime", "YYYY-MM-DD HH:MM:SS"),
        ("datetime", "DD.MM.YYYY HH:MM"),
        ("boolean", "Yes/No"),
        ("string", ""),
        ("date", ""),
    ],
)
def test_accepts_formats_that_parse(data_type, fmt):
    check_format(data_type, fmt)


@pytest.mark.parametrize("data_type", sorted(PARSERS))
@given(value=json_values)
def test_parsers_raise_only_invalid_and_store_a_canonical_form(data_type, value):
    try:
        stored = parse(data_type, value)
    except Invalid:
        return
    json.dumps(stored)  # what is accepted can be stored as JSON
    # The stored value is the canonical form: sent again, it is stored the same.
    assert parse(data_type, stored) == stored


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_integer_round_trips(number):
    assert parse("integer", number) == number
    assert parse("integer", str(number)) == number


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4))
def test_decimal_round_trips_exactly(number):
    assert Decimal(parse("decimal", number)) == number
    assert Decimal(parse("decimal", str(number))) == number


@given(st.dates())
def test_date_round_trips(day):
    assert parse("date", day.isoformat()) == day.isoformat()


@given(st.datetimes(min_value=dt.datetime(1000, 1, 1)))
def test_datetime_round_trips(moment):
    moment = moment.replace(microsecond=0)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    assert dt.datetime.fromisoformat(parse("datetime", text)) == moment


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_round_trips(number):
    assert parse("float", number) == number


@given(st.booleans(), st.sampled_from(["", "Yes/No", "Ja/Nej", "1/0"]))
def test_boolean_round_trips(flag, fmt):
    assert parse("boolean", flag, fmt) is flag
    word = boolean_words(fmt)[0 if flag else 1]
    assert parse("boolean", word.upper(), fmt) is flag


@given(st.emails())
def test_email_round_trips(address):
    try:
        stored = parse("email", address)
    except Invalid:
        return  # hypothesis's emails include a few that email-validator refuses
    # The same address: the local part as sent, the domain case-folded (and an IDNA
    # domain in Unicode rather than xn-- form).
    local, domain = stored.rsplit("@", 1)
    sent_local, sent_domain = address.rsplit("@", 1)
    assert local == sent_local
    assert domain.encode("idna").decode().lower() == sent_domain.lower()
    assert parse("email", stored) == stored


# Addresses near the edges of the plain form that mappings.types checks per domain:
# every atext character, dots, hyphens, punycode, mailbox names, lengths near 254.
_local_parts = st.text(st.sampled_from("aZ9.!#$%&'*+/=?^_`{|}~-\"(),:;<>@[]\\ é"))
_domains = st.lists(
    st.sampled_from(["a", "Ex", "9", "-", ".", "_", "xn--", "bcher-kva", "é", "com"]),
    max_size=12,
).map("".join)
_addresses = st.builds("{}@{}".format, _local_parts, _domains) | st.text()


@given(_addresses)
@example("Postmaster@Example.COM")
@example("someone@xn--bcher-kva.com")
@example("someone@localhost")
@example("someone@example.com.")
@example("someone@123.456")
@example(f"{'a' * 64}@{'b' * 63}.{'c' * 63}.{'d' * 57}.com")
@example(f"{'a' * 64}@{'b' * 63}.{'c' * 63}.{'d' * 58}.com")
@example(f"{'a' * 65}@example.com")
@example(" spaced@example.com\n")
def test_email_is_judged_exactly_as_email_validator_judges_it(value):
    try:
        expected = validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    try:
        stored = parse("email", value)
    except Invalid:
        stored = None
    assert stored == expected


@given(st.lists(st.one_of(st.text(), st.integers(), st.booleans(), st.none())))
def test_list_of_scalars_round_trips(items):
    assert parse("list", items) == items


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False)))
def test_list_of_numbers_round_trips(numbers):
    assert parse("list", [Decimal(repr(n)) for n in numbers]) == numbers


def test_integer_strings_of_any_length_are_refused_not_crashed():
    with pytest.raises(Invalid, match="out of range"):
        parse("integer", "1" * 5000)
