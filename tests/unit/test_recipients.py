"""Who is told about a file: addresses, NotifyPrefixRules, and which of the two wins."""

from __future__ import annotations

import pytest

from syncdrop.config import SettingsError, SubmitSettings
from syncdrop.recipients import (
    MAX_RECIPIENTS,
    PrefixRule,
    is_address,
    parse_addresses,
    parse_prefix_rules,
    recipients_for,
)

RULES = parse_prefix_rules(
    "incoming/team-a/=lead@a.example;incoming/team-a/video/=cut@a.example,ed@a.example;"
    "incoming/team-b/=b@b.example"
)


@pytest.mark.parametrize(
    "text", ["a@b.co", "first.last+tag@mail.example.org", "O'Brien@x.ie", "x@sub-d.example"]
)
def test_addresses_syncdrop_can_mail(text: str) -> None:
    assert is_address(text)


@pytest.mark.parametrize(
    "text",
    ["bob", "bob@", "@x.com", "a@b", "a b@c.com", "a@b.com,", "<a@b.com>", "a@@b.com", "a@b..com"],
)
def test_text_that_is_not_an_address(text: str) -> None:
    assert not is_address(text)


def test_address_lists_are_split_on_commas_lower_cased_and_deduplicated() -> None:
    parsed = parse_addresses(" A@B.com, c@d.com ,,a@b.COM, nope ")
    assert parsed.valid == ("a@b.com", "c@d.com")
    assert parsed.invalid == ("nope",)


def test_rules_are_tried_longest_folder_first() -> None:
    assert [rule.prefix for rule in RULES] == [
        "incoming/team-a/video/",
        "incoming/team-a/",
        "incoming/team-b/",
    ]
    assert RULES[0] == PrefixRule("incoming/team-a/video/", ("cut@a.example", "ed@a.example"))
    assert parse_prefix_rules("") == ()
    assert parse_prefix_rules(" ; ") == ()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("incoming/a/", "has no '='"),
        ("team-a/=a@b.com", "must be a folder under incoming/"),
        ("incoming/a=a@b.com", "ending with '/'"),
        ("incoming/a/=bob", "'bob' is not an email address"),
        ("incoming/a/=", "names no address"),
        ("incoming/a/=a@b.com;incoming/a/=c@d.com", "has two rules"),
        ("incoming/a/=" + ",".join(f"p{i}@x.com" for i in range(MAX_RECIPIENTS + 1)), "more than"),
    ],
)
def test_a_wrong_rule_is_named_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_prefix_rules(text)


def test_metadata_wins_over_the_prefix_rule() -> None:
    told = recipients_for("incoming/team-a/x.csv", {"notify": "me@x.example"}, RULES)
    assert told.addresses == ("me@x.example",)
    assert told.note == ""


def test_the_longest_matching_prefix_rule_applies_without_metadata() -> None:
    assert recipients_for("incoming/team-a/video/x.csv", {}, RULES).addresses == (
        "cut@a.example",
        "ed@a.example",
    )
    assert recipients_for("incoming/team-a/x.csv", None, RULES).addresses == ("lead@a.example",)
    # A folder only matches whole: team-ab is not team-a.
    assert recipients_for("incoming/team-ab/x.csv", {}, RULES).addresses == ()
    assert recipients_for("incoming/x.csv", {}, RULES).addresses == ()


def test_a_bad_address_in_the_metadata_is_a_note_and_the_good_ones_are_told() -> None:
    told = recipients_for("incoming/x.csv", {"notify": "ok@x.example, not-an-address"}, ())
    assert told.addresses == ("ok@x.example",)
    assert "'not-an-address', which is not an email address" in told.note


def test_metadata_naming_nobody_usable_falls_back_to_the_prefix_rule_with_the_note() -> None:
    told = recipients_for("incoming/team-b/x.csv", {"Notify": "bob; alice"}, RULES)
    assert told.addresses == ("b@b.example",)
    assert "'bob; alice'" in told.note


def test_control_characters_in_metadata_are_not_copied_into_the_note() -> None:
    told = recipients_for("incoming/x.csv", {"notify": "a\x1b[31m"}, ())
    assert "\x1b" not in told.note
    assert told.addresses == ()


def test_too_many_addresses_are_cut_with_a_note() -> None:
    many = ",".join(f"p{i}@x.example" for i in range(MAX_RECIPIENTS + 3))
    told = recipients_for("incoming/x.csv", {"notify": many}, ())
    assert len(told.addresses) == MAX_RECIPIENTS
    assert f"only the first {MAX_RECIPIENTS}" in told.note


ENV = {
    "JOB_TABLE": "jobs",
    "RESULTS_TABLE": "results",
    "UPLOADS_BUCKET": "bkt",
    "SYNC_API_BASE_URL": "https://api.sync.so",
    "SYNC_API_KEY_SECRET_ARN": "arn:secret",
    "BATCH_CONCURRENCY": "3",
    "RESULTS_QUEUE_URL": "https://sqs/q",
}


def test_the_rules_are_read_at_cold_start() -> None:
    settings = SubmitSettings.from_env({**ENV, "NOTIFY_PREFIX_RULES": "incoming/t/=T@x.example"})
    assert settings.prefix_rules == (PrefixRule("incoming/t/", ("t@x.example",)),)
    assert SubmitSettings.from_env(ENV).prefix_rules == ()


def test_a_wrong_rule_stops_the_function_at_cold_start_naming_it() -> None:
    with pytest.raises(SettingsError, match=r"NOTIFY_PREFIX_RULES: .*'team/' must be a folder"):
        SubmitSettings.from_env({**ENV, "NOTIFY_PREFIX_RULES": "team/=t@x.example"})
