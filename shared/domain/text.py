"""Free text from callers and integrations, made safe before it reaches SMS, e-mail, Dynamics or storage.

Every text field of a request follows one of three rules (docs/API.md has the table field -> rule):

- :data:`PlainText` (names, e-mail, postal codes, ids): any control character is refused (422).
- :data:`SingleLineText` (address, cancel reason): line breaks and tabs become one space each run,
  any other control character is refused.
- :data:`MultiLineText` (notes): line breaks are kept as ``\\n`` (CRLF, CR and U+2028/2029 normalised),
  tabs become a space, any other control character is refused.

"Control character" means Unicode category Cc (C0, DEL, C1), lone surrogates (Cs) and the bidirectional
overrides and isolates (U+202A-U+202E, U+2066-U+2069) that can make a text display as something else.
Refusing rather than silently stripping keeps a caller's bug visible (``"Bob\\u0000\\r\\nX-Injected: 1"``
is a 422 naming the field, not a booking for "BobX-Injected: 1"). Each rule has a JSON Schema
``pattern`` that says the same thing, so the OpenAPI document agrees with the server. Pure logic.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, GetJsonSchemaHandler

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x85]")
_BLANKS = re.compile(r"[\t\r\n\u2028\u2029\x85]+")
REFUSED = "must not contain control characters (such as NUL, line breaks or escape codes)"
REFUSED_INLINE = "must not contain control characters other than line breaks and tabs"

# JSON Schema (ECMA 262) patterns of what each rule accepts; what they exclude is what the validators refuse.
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
PLAIN_PATTERN = rf"^[^{_CONTROLS}\u2028\u2029]*$"
_EXCEPT_BLANKS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069"
TEXT_PATTERN = rf"^[^{_EXCEPT_BLANKS}]*$"


def is_control(char: str) -> bool:
    """Whether ``char`` is a character no free-text field keeps as it is."""
    return char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029"


def without_controls(value: str) -> str:
    """Every control character as a space, runs of spaces folded: for text taken whatever it holds (speech)."""
    return re.sub(r"\s{2,}", " ", "".join(" " if is_control(char) else char for char in value)).strip()


def plain(value: str) -> str:
    """``value`` unchanged, or ValueError when it holds any control character (line breaks included)."""
    if any(is_control(char) for char in value):
        raise ValueError(REFUSED)
    return value


def single_line(value: str) -> str:
    """Line breaks and tabs as single spaces; ValueError for any other control character."""
    flattened = _BLANKS.sub(" ", value)
    if any(is_control(char) for char in flattened):
        raise ValueError(REFUSED_INLINE)
    return re.sub(r" {2,}", " ", flattened).strip()


def multi_line(value: str) -> str:
    """Line breaks kept as ``\\n`` (normalised), tabs as spaces; ValueError for any other control character."""
    normalised = _LINE_BREAKS.sub("\n", value).replace("\t", " ")
    if any(is_control(char) for char in normalised.replace("\n", "")):
        raise ValueError(REFUSED_INLINE)
    return normalised.strip()


@dataclass(frozen=True)
class _Pattern:
    """Adds a rule's ``pattern`` to the field's JSON schema, keeping the rest (maxLength...) as generated."""

    pattern: str

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


PlainText = Annotated[str, AfterValidator(plain), _Pattern(PLAIN_PATTERN)]
SingleLineText = Annotated[str, AfterValidator(single_line), _Pattern(TEXT_PATTERN)]
MultiLineText = Annotated[str, AfterValidator(multi_line), _Pattern(TEXT_PATTERN)]
