"""Phone numbers as Frontdesk stores and texts them: E.164 (``+14155552671``), normalised with ``phonenumbers``.

Callers and staff type numbers in national formats ("(415) 555-2671", "020 7946 0958"); a number
without a country code is read in the business's region (``default_region``, e.g. "US"). Only digits
and the usual punctuation are accepted: letters (vanity numbers, spoken words) and extensions are
refused, because a text message can reach neither. Pure logic: no I/O.
"""

from __future__ import annotations

import re

import phonenumbers

# Digits, an optional leading +, and the separators people write between digit groups.
_ALLOWED = re.compile(r"^\+?[\d\s().\-/]*$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_INPUT_LENGTH = 40


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number that can receive a text message."""


def to_e164(raw: str, default_region: str = "US") -> str:
    """The E.164 form of ``raw``, reading national numbers in ``default_region`` (ISO 3166 code).

    Raises :class:`InvalidPhoneNumber` with a message fit to show to the person who typed it.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    if len(text) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber("phone number is too long")
    if not _ALLOWED.match(text):
        raise InvalidPhoneNumber("phone number may contain only digits, spaces, +, (, ), -, . and /")
    if not any(char.isdigit() for char in text):
        raise InvalidPhoneNumber("not a phone number")
    region = (default_region or "").upper()
    if not text.startswith("+") and region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidPhoneNumber(f"unknown default region {default_region!r} for a number without a country code")
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(_parse_problem(exc)) from None
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or f"+{number.country_code}"
        raise InvalidPhoneNumber(f"not a valid phone number for {where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_e164(value: str) -> str:
    """``value`` when it is written in E.164 *and* is a valid number for its country, else
    :class:`InvalidPhoneNumber`. ``+10000000000`` has E.164's shape but no US number starts with 0,
    so a text could never reach it: refusing it up front beats confirming a booking whose text fails.
    """
    if not is_e164(value):
        raise InvalidPhoneNumber("must be an E.164 number such as +13125550142")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(_parse_problem(exc)) from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"is not a possible phone number for {_where(number)} (wrong length)")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"is not a valid phone number for {_where(number)}")
    if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != value:
        # "+112345678901" parses (the extra 1 is read as a national prefix) but gateways refuse it as written.
        raise InvalidPhoneNumber("is not written as E.164 (no national prefix after the country code)")
    return value


def _where(number: phonenumbers.PhoneNumber) -> str:
    region = phonenumbers.region_code_for_number(number)
    return region if region and region != "ZZ" else f"country code +{number.country_code}"


def try_e164(raw: str | None, default_region: str = "US") -> str | None:
    """Like :func:`to_e164`, but ``None`` instead of an error (for optional fields)."""
    try:
        return to_e164(raw or "", default_region)
    except InvalidPhoneNumber:
        return None


def is_e164(value: str | None) -> bool:
    """True when ``value`` is already written in E.164 (shape only, not validity)."""
    return bool(value and _E164.match(value))


def region_of(e164: str) -> str | None:
    """The ISO region of an E.164 number ("US", "GB"), or ``None`` when it is not one."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or None
    except phonenumbers.NumberParseException:
        return None


def _parse_problem(exc: phonenumbers.NumberParseException) -> str:
    kinds = phonenumbers.NumberParseException
    return {
        kinds.INVALID_COUNTRY_CODE: "unknown country code",
        kinds.NOT_A_NUMBER: "not a phone number",
        kinds.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
        kinds.TOO_SHORT_NSN: "too short to be a phone number",
        kinds.TOO_LONG: "too long to be a phone number",
    }.get(exc.error_type, "not a phone number")
