"""ASP.NET-style route templates as the Functions host understands them.

Supports literal segments (matched case-insensitively), ``{name}``, optional ``{name?}``, defaults
``{name=value}``, typed and chained constraints ``{id:int}``, ``{code:alpha:length(3)}``,
``{x:regex(^\\d{{3}}$)}``, catch-all ``{*rest}`` / ``{**rest}`` and complex segments such as
``{name}.{ext}``. Routes are tried in ASP.NET precedence order: literal before constrained parameter
before parameter before catch-all, segment by segment.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote

_INT32 = (-2**31, 2**31 - 1)
_INT64 = (-2**63, 2**63 - 1)


class RouteTemplateError(ValueError):
    """A route template the Functions host would refuse."""


@dataclass(frozen=True)
class Parameter:
    name: str
    constraints: tuple[tuple[str, str | None], ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    def accepts(self, value: str) -> bool:
        return all(_check(kind, arg, value) for kind, arg in self.constraints)


@dataclass(frozen=True)
class Segment:
    """One path segment: either a single literal, a single parameter, or a complex mix."""

    parts: tuple[str | Parameter, ...]
    regex: re.Pattern | None = None

    @property
    def literal(self) -> str | None:
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], str) else None

    @property
    def parameter(self) -> Parameter | None:
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], Parameter) else None

    @property
    def precedence(self) -> int:
        """ASP.NET's per-segment digit: 1 literal, 2 complex, 3 constrained, 4 parameter, 5 catch-all."""
        if self.literal is not None:
            return 1
        parameter = self.parameter
        if parameter is None:
            return 2
        if parameter.catch_all:
            return 5
        return 3 if parameter.constraints else 4


@dataclass
class RouteTemplate:
    template: str
    segments: list[Segment] = field(default_factory=list)

    @property
    def precedence(self) -> tuple:
        return tuple(segment.precedence for segment in self.segments) + (9,)

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for s in self.segments for p in s.parts if isinstance(p, Parameter)]

    def match(self, path: str) -> dict[str, str] | None:
        """Route values for ``path`` (no prefix, no query), or None when it does not match."""
        values = [unquote(part) for part in path.strip("/").split("/")] if path.strip("/") else []
        params: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            parameter = segment.parameter
            if parameter is not None and parameter.catch_all:
                rest = "/".join(values[index:])
                if not rest and parameter.default is not None:
                    rest = parameter.default
                if rest and not parameter.accepts(rest):
                    return None
                if rest:
                    params[parameter.name] = rest
                return params
            if index >= len(values):
                if not _can_be_missing(segment):
                    return None
                if parameter is not None and parameter.default is not None:
                    params[parameter.name] = parameter.default
                continue
            if not _match_segment(segment, values[index], params):
                return None
        if len(values) > len(self.segments):
            return None
        return params


def compile_route(template: str) -> RouteTemplate:
    """Parse a route template or raise :class:`RouteTemplateError` naming what is wrong."""
    text = template.strip().strip("/")
    if text.startswith("~"):
        raise RouteTemplateError(f"route '{template}': '~' is not allowed")
    route = RouteTemplate(template)
    raw_segments = _split_segments(text) if text else []
    seen: set[str] = set()
    for position, raw in enumerate(raw_segments):
        if raw == "":
            raise RouteTemplateError(f"route '{template}': empty segment")
        parts = _parse_segment(raw, template)
        for part in parts:
            if isinstance(part, Parameter):
                if part.name.lower() in seen:
                    raise RouteTemplateError(f"route '{template}': parameter '{part.name}' appears twice")
                seen.add(part.name.lower())
                if part.catch_all and position != len(raw_segments) - 1:
                    raise RouteTemplateError(f"route '{template}': a catch-all parameter must be last")
        segment = Segment(tuple(parts), _segment_regex(parts) if len(parts) > 1 else None)
        route.segments.append(segment)
    _check_optional_order(route, template)
    return route


def sort_by_precedence(routes: list) -> list:
    """Most specific route first (items are tuples whose first element is a RouteTemplate)."""
    return sorted(routes, key=lambda item: (item[0].precedence, item[0].template.lower()))


def _split_segments(text: str) -> list[str]:
    """Split on '/' outside braces (a regex constraint may contain '/')."""
    segments, depth, current = [], 0, []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "{" and text[index:index + 2] != "{{":
            depth += 1
        elif char == "}" and depth and text[index:index + 2] != "}}":
            depth -= 1
        elif char in "{}" and text[index:index + 2] in ("{{", "}}"):
            current.append(text[index:index + 2])
            index += 2
            continue
        if char == "/" and depth == 0:
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    segments.append("".join(current))
    return segments


def _parse_segment(raw: str, template: str) -> list[str | Parameter]:
    parts: list[str | Parameter] = []
    literal: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if raw.startswith("{{", index) or raw.startswith("}}", index):
            literal.append(char)
            index += 2
            continue
        if char == "{":
            end = _closing_brace(raw, index, template)
            if literal:
                parts.append("".join(literal))
                literal = []
            if parts and isinstance(parts[-1], Parameter):
                raise RouteTemplateError(f"route '{template}': two parameters need a literal between them")
            parts.append(_parse_parameter(raw[index + 1:end], template))
            index = end + 1
            continue
        if char == "}":
            raise RouteTemplateError(f"route '{template}': unmatched '}}'")
        literal.append(char)
        index += 1
    if literal:
        parts.append("".join(literal))
    if len(parts) > 1 and any(isinstance(p, Parameter) and p.catch_all for p in parts):
        raise RouteTemplateError(f"route '{template}': a catch-all must be a whole segment")
    return parts


def _closing_brace(raw: str, start: int, template: str) -> int:
    index = start + 1
    while index < len(raw):
        if raw.startswith("}}", index):
            index += 2
            continue
        if raw[index] == "}":
            return index
        index += 1
    raise RouteTemplateError(f"route '{template}': unmatched '{{'")


def _parse_parameter(body: str, template: str) -> Parameter:
    body = body.replace("{{", "{").replace("}}", "}")
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    default = None
    optional = False
    name_and_constraints, sep, default_text = _split_default(body)
    if sep:
        default = default_text
    if name_and_constraints.endswith("?"):
        optional = True
        name_and_constraints = name_and_constraints[:-1]
    pieces = _split_constraints(name_and_constraints)
    name = pieces[0]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise RouteTemplateError(f"route '{template}': invalid parameter name '{name}'")
    constraints = tuple(_parse_constraint(piece, template) for piece in pieces[1:])
    return Parameter(name, constraints, optional, default, catch_all)


def _split_default(body: str) -> tuple[str, str, str]:
    """Split ``name:constraints=default`` on the first '=' outside parentheses."""
    depth = 0
    for index, char in enumerate(body):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "=" and depth == 0:
            return body[:index], "=", body[index + 1:]
    return body, "", ""


def _split_constraints(text: str) -> list[str]:
    pieces, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == ":" and depth == 0:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


_KNOWN = {"int", "long", "bool", "datetime", "decimal", "double", "float", "guid", "alpha", "required",
          "minlength", "maxlength", "length", "min", "max", "range", "regex"}


def _parse_constraint(piece: str, template: str) -> tuple[str, str | None]:
    match = re.fullmatch(r"([A-Za-z]+)(?:\((.*)\))?", piece, flags=re.S)
    if not match or match.group(1).lower() not in _KNOWN:
        raise RouteTemplateError(f"route '{template}': unknown constraint '{piece}'")
    kind, arg = match.group(1).lower(), match.group(2)
    if kind == "regex":
        try:
            re.compile(arg or "")
        except re.error as exc:
            raise RouteTemplateError(f"route '{template}': bad regex constraint: {exc}") from None
    return kind, arg


def _check(kind: str, arg: str | None, value: str) -> bool:
    try:
        if kind in ("int", "long"):
            low, high = _INT32 if kind == "int" else _INT64
            return bool(re.fullmatch(r"-?\d+", value)) and low <= int(value) <= high
        if kind == "bool":
            return value.lower() in ("true", "false")
        if kind in ("decimal", "double", "float"):
            float(value)
            return bool(re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value))
        if kind == "datetime":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return True
        if kind == "guid":
            uuid.UUID(value)
            return True
        if kind == "alpha":
            return bool(re.fullmatch(r"[A-Za-z]+", value))
        if kind == "required":
            return value != ""
        if kind == "minlength":
            return len(value) >= int(arg)
        if kind == "maxlength":
            return len(value) <= int(arg)
        if kind == "length":
            bounds = [int(x) for x in arg.split(",")]
            return len(value) == bounds[0] if len(bounds) == 1 else bounds[0] <= len(value) <= bounds[1]
        if kind in ("min", "max", "range"):
            if not re.fullmatch(r"-?\d+", value):
                return False
            number = int(value)
            bounds = [int(x) for x in arg.split(",")]
            if kind == "min":
                return number >= bounds[0]
            if kind == "max":
                return number <= bounds[0]
            return bounds[0] <= number <= bounds[1]
        if kind == "regex":
            return re.search(arg, value, flags=re.IGNORECASE) is not None
    except (ValueError, TypeError, IndexError):
        return False
    return False


def _segment_regex(parts: list[str | Parameter]) -> re.Pattern:
    pattern = []
    for index, part in enumerate(parts):
        if isinstance(part, str):
            pattern.append(re.escape(part))
        else:
            pattern.append(f"(?P<p{index}>.+?)" + ("?" if part.optional else ""))
    return re.compile("^" + "".join(pattern) + "$", re.IGNORECASE)


def _match_segment(segment: Segment, value: str, params: dict[str, str]) -> bool:
    literal = segment.literal
    if literal is not None:
        return value.lower() == literal.lower()
    parameter = segment.parameter
    if parameter is not None:
        if value == "" and not (parameter.optional or parameter.default is not None):
            return False
        if value and not parameter.accepts(value):
            return False
        params[parameter.name] = value
        return True
    found = segment.regex.match(value)
    if not found:
        return False
    for index, part in enumerate(segment.parts):
        if isinstance(part, Parameter):
            captured = found.group(f"p{index}")
            if captured is None:
                if not part.optional:
                    return False
                continue
            if not part.accepts(captured):
                return False
            params[part.name] = captured
    return True


def _can_be_missing(segment: Segment) -> bool:
    parameter = segment.parameter
    return parameter is not None and (parameter.optional or parameter.default is not None or parameter.catch_all)


def _check_optional_order(route: RouteTemplate, template: str) -> None:
    seen_optional = False
    for segment in route.segments:
        missing_ok = _can_be_missing(segment)
        if seen_optional and not missing_ok:
            raise RouteTemplateError(f"route '{template}': an optional parameter must be at the end")
        seen_optional = seen_optional or missing_ok
