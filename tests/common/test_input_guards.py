"""The shared input guards: text validators and the JSON parser front door."""

import pytest
from django.core.exceptions import ValidationError

from common.jsonguard import JSONInputError, parse_json, too_deep
from common.validators import multi_line, one_line, printable, single_line, storable


@pytest.mark.parametrize(
    "value",
    ["a\nb", "a\rb", "a\x00b", "a\x07b", "a\x1bb", "a\x7fb", "a\x85b", "a\u2028b", "a\ud800b"],
)
def test_single_line_refuses_line_breaks_and_controls(value):
    with pytest.raises(ValidationError) as caught:
        single_line(value)
    assert caught.value.code == "invalid_characters"


@pytest.mark.parametrize("value", ["Checkout is failing", "tab\tseparated", "한국어 제목", ""])
def test_single_line_accepts_ordinary_text(value):
    single_line(value)


def test_multi_line_accepts_line_breaks_but_not_nul_or_surrogates():
    multi_line("one\r\ntwo\n\tthree")
    for value in ("a\x00b", "a\udfffb", "a\x07b"):
        with pytest.raises(ValidationError):
            multi_line(value)


def test_the_message_names_what_was_found():
    with pytest.raises(ValidationError) as caught:
        single_line("a\nb")
    assert caught.value.messages == [
        "This field cannot contain a line break (it is a single line)."
    ]


def test_normalisers_for_machine_input():
    assert storable("a\x00b\ud800c") == "ab\ufffdc"
    assert printable("a\x07b\nc") == "a b\nc"
    assert one_line("  Errors above 5%\r\n on\tcheckout\u2028 ") == "Errors above 5% on\tcheckout"
    assert one_line("Login  down\n\n  again") == "Login  down again"


def test_validators_deconstruct_for_migrations():
    path, _args, kwargs = multi_line.deconstruct()
    assert path == "common.validators.TextValidator" and kwargs == {"multi_line": True}
    assert single_line == single_line.__class__()


def test_depth_is_counted_without_parsing_and_ignores_strings():
    assert too_deep('{"a": [[1]]}', limit=2)
    assert not too_deep('{"a": [[1]]}', limit=3)
    assert not too_deep('{"a": "[[[[[[[[[["}', limit=1)
    assert not too_deep('{"a": "\\"[[[[", "b": 1}', limit=1)
    assert not too_deep("[1]," * 10_000, limit=2)  # many, not deep
    assert too_deep("[" * 100_000, limit=32)
    # Quotes and backslashes that never close a string: stripping strings stays linear
    # (this input took minutes when each quote began a failing match).
    assert too_deep("[" * 40 + '"\\"' * 80_000 + "\\", limit=32)
    assert not too_deep("[" * 20 + '"' + '\\"[' * 60_000 + '"' + "]" * 20, limit=32)


def test_parse_json_refuses_deep_nesting_before_the_decoder_recurses(settings):
    settings.KEEL_MAX_JSON_DEPTH = 32
    with pytest.raises(JSONInputError) as caught:
        parse_json("[" * 100_000 + "]" * 100_000, max_bytes=10**6)
    assert caught.value.code == "json_too_deep"
    assert parse_json("[" * 32 + "]" * 32) == parse_json("[" * 32 + "]" * 32)


def test_parse_json_refuses_nul_and_surrogates_naming_the_top_level_field():
    with pytest.raises(JSONInputError) as caught:
        parse_json('{"title": "ok", "sections": {"summary": {"text": "a\\u0000"}}}')
    assert caught.value.field == "sections"
    assert "sections.summary.text" in caught.value.message
    with pytest.raises(JSONInputError) as caught:
        parse_json('{"labels": {"k": "\\ud800"}}')
    assert caught.value.field == "labels"
    assert parse_json('{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}  # a pair is fine


def test_parse_json_can_clean_instead(settings):
    assert parse_json('{"a\\u0000b": ["\\ud800x"]}', clean=True) == {"ab": ["\ufffdx"]}


def test_parse_json_refuses_nan_oversize_and_bad_utf8(settings):
    settings.KEEL_MAX_BODY_BYTES = 100
    for raw in (b'{"a": NaN}', b'{"a": Infinity}', b"x" * 101, b'{"a": "\xff"}', b"{"):
        with pytest.raises(JSONInputError):
            parse_json(raw)
