"""Who is told about a file: the upload's ``notify`` metadata, else the deployment's prefix rule."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The S3 user metadata key (sent as the header x-amz-meta-notify; S3 answers keys lower-cased).
NOTIFY_METADATA = "notify"
# Enough for a team; each address is one value of the message's `notify` attribute.
MAX_RECIPIENTS = 20
# One @, a dot in the domain, no spaces, commas, quotes or angle brackets: an address SNS can
# mail and a subscriber's filter can name. Not every RFC 5322 form, on purpose.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_ADDRESS_MAX = 254


def is_address(text: str) -> bool:
    return len(text) <= _ADDRESS_MAX and _ADDRESS.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class AddressList:
    valid: tuple[str, ...]
    invalid: tuple[str, ...]


def parse_addresses(text: str) -> AddressList:
    """``a@b.com, C@D.com`` → valid addresses (lower-cased, first of each kept) and the rest.

    Lower-cased because SNS filter policies compare strings case-sensitively, and a subscriber
    types the address however they like: both sides are lower-cased by syncdrop.
    """
    valid: list[str] = []
    invalid: list[str] = []
    for part in text.split(","):
        address = part.strip()
        if not address:
            continue
        if is_address(address):
            if address.lower() not in valid:
                valid.append(address.lower())
        else:
            invalid.append(address)
    return AddressList(tuple(valid), tuple(invalid))


@dataclass(frozen=True, slots=True)
class PrefixRule:
    """Files under ``prefix`` (e.g. ``incoming/team-a/``) tell ``addresses``."""

    prefix: str
    addresses: tuple[str, ...]


def parse_prefix_rules(text: str) -> tuple[PrefixRule, ...]:
    """``incoming/a/=x@y.com;incoming/b/=p@q.com,r@s.com`` → rules, longest prefix first.

    Raises ValueError naming the rule that is wrong and what the syntax is.
    """
    syntax = "expected incoming/<folder>/=<address>[,<address>...] rules separated by ';'"
    rules: dict[str, tuple[str, ...]] = {}
    for raw in text.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        prefix, equals, addresses = entry.partition("=")
        prefix = prefix.strip()
        if not equals:
            raise ValueError(f"{entry!r} has no '=': {syntax}")
        if not prefix.startswith("incoming/") or not prefix.endswith("/"):
            raise ValueError(
                f"{prefix!r} must be a folder under incoming/, ending with '/' (like "
                f"incoming/team-a/): {syntax}"
            )
        if prefix in rules:
            raise ValueError(f"{prefix!r} has two rules: give it one, with every address")
        parsed = parse_addresses(addresses)
        if parsed.invalid:
            wrong = ", ".join(map(repr, parsed.invalid))
            raise ValueError(f"{prefix!r}: {wrong} is not an email address")
        if not parsed.valid:
            raise ValueError(f"{prefix!r} names no address: {syntax}")
        if len(parsed.valid) > MAX_RECIPIENTS:
            raise ValueError(f"{prefix!r} names more than {MAX_RECIPIENTS} addresses")
        rules[prefix] = parsed.valid
    return tuple(
        PrefixRule(prefix, rules[prefix]) for prefix in sorted(rules, key=len, reverse=True)
    )


@dataclass(frozen=True, slots=True)
class Recipients:
    addresses: tuple[str, ...] = ()
    # For the email: addresses in the metadata that were not used, and why.
    note: str = ""


def recipients_for(
    key: str, metadata: Mapping[str, str] | None, rules: Sequence[PrefixRule]
) -> Recipients:
    """The upload's ``notify`` metadata wins; without a usable one, the longest matching prefix
    rule; without either, nobody in particular (the NotificationEmail subscriber decides)."""
    named = next(
        (value for name, value in (metadata or {}).items() if name.lower() == NOTIFY_METADATA),
        "",
    )
    parsed = parse_addresses(named)
    notes: list[str] = []
    if parsed.invalid:
        shown = ", ".join(repr(_visible(text)) for text in parsed.invalid[:5])
        one = len(parsed.invalid) == 1
        notes.append(
            f"The file's notify metadata (x-amz-meta-notify) names {shown}, which "
            f"{'is not an email address' if one else 'are not email addresses'}: nobody was "
            f"told at {'it' if one else 'them'}. Separate addresses with commas."
        )
    addresses = parsed.valid
    if len(addresses) > MAX_RECIPIENTS:
        notes.append(
            f"The notify metadata names {len(addresses)} addresses; only the first "
            f"{MAX_RECIPIENTS} were told."
        )
        addresses = addresses[:MAX_RECIPIENTS]
    if not addresses:
        rule = next((r for r in rules if key.startswith(r.prefix)), None)
        addresses = rule.addresses if rule else ()
    return Recipients(addresses, " ".join(notes))


def _visible(text: str) -> str:
    # Metadata is the uploader's text: shown short, on one line, without control characters.
    cleaned = "".join(c if c.isprintable() else "?" for c in text)
    return cleaned if len(cleaned) <= 60 else cleaned[:59] + "…"
