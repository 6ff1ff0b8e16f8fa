"""Read Bicep files with tree-sitter-bicep: syntax errors, parameters, resources, app settings, literals.

`az bicep build` needs a download that is not possible offline, so the infra tests parse the templates with
the tree-sitter grammar and assert on the syntax tree (property names and literal values), which is what a
reviewer checks by eye -- only exhaustively.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
FUNCTION_APP = INFRA / "modules" / "functionapp.bicep"


@functools.cache
def _parser():
    import tree_sitter
    import tree_sitter_bicep
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bicep.language()))


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def text(node) -> str:
    return node.text.decode("utf-8")


def literal(node):
    """The Python value of a literal node (plain string, number, boolean, null), else ``NotLiteral``."""
    if node is None:
        return NotLiteral
    if node.type == "string":
        parts = node.named_children
        if any(part.type != "string_content" for part in parts):
            return NotLiteral  # interpolated
        return "".join(text(part) for part in parts)
    if node.type == "number":
        return int(text(node))
    if node.type == "boolean":
        return text(node) == "true"
    if node.type == "null":
        return None
    return NotLiteral


class _NotLiteral:
    def __repr__(self) -> str:
        return "NotLiteral"


NotLiteral = _NotLiteral()


def key_of(prop) -> str:
    """The key of an ``object_property`` (identifier or quoted string)."""
    key = prop.named_children[0]
    return literal(key) if key.type == "string" else text(key)


def value_of(prop):
    return prop.named_children[-1]


def properties(obj) -> dict[str, object]:
    """``{key: value node}`` of an ``object`` node's direct properties."""
    if obj is None or obj.type != "object":
        return {}
    return {key_of(p): value_of(p) for p in obj.named_children if p.type == "object_property"}


def get(obj, *path: str):
    """The value node at ``path`` inside nested objects, or None."""
    node = obj
    for key in path:
        node = properties(node).get(key)
        if node is None:
            return None
    return node


def strings_in(node) -> list:
    """Every string node below ``node`` (including inside interpolations and ternaries)."""
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "string":
            found.append(current)
        stack.extend(current.named_children)
    return found


@dataclass
class Param:
    name: str
    type: str
    default: object  # a node or None
    decorators: list[str] = field(default_factory=list)

    @property
    def secure(self) -> bool:
        return "secure" in self.decorators


@dataclass
class Resource:
    symbol: str
    type: str  # e.g. Microsoft.Web/sites@2024-04-01
    body: object  # the object node
    condition: object | None

    @property
    def provider(self) -> str:
        return self.type.split("@")[0]

    @property
    def api_version(self) -> str:
        return self.type.split("@")[1] if "@" in self.type else ""


class BicepFile:
    def __init__(self, path: Path):
        self.path = path
        self.source = path.read_bytes()
        self.tree = _parser().parse(self.source)
        self.root = self.tree.root_node

    def syntax_problems(self) -> list[str]:
        problems = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.type == "ERROR" or node.is_missing:
                line, column = node.start_point
                kind = "missing" if node.is_missing else "error"
                problems.append(f"{self.path.name}:{line + 1}:{column + 1}: {kind} near {text(node)[:60]!r}")
            stack.extend(node.children)
        return problems

    def _declarations(self):
        """Top-level declarations, each with the decorator names written above it."""
        pending: list[str] = []
        for node in self.root.named_children:
            if node.type == "decorators":
                for decorator in node.named_children:
                    call = decorator.named_children[0]
                    head = call.named_children[0] if call.named_children else call
                    pending.append(text(head).split(".")[-1])
                continue
            if node.type == "comment":
                continue
            yield node, pending
            pending = []

    def params(self) -> dict[str, Param]:
        found = {}
        for node, decorators in self._declarations():
            if node.type == "parameter_declaration":
                name, kind, *rest = node.named_children
                found[text(name)] = Param(text(name), text(kind), rest[0] if rest else None, decorators)
        return found

    def variables(self) -> dict[str, object]:
        return {text(node.named_children[0]): node.named_children[-1]
                for node, _ in self._declarations() if node.type == "variable_declaration"}

    def outputs(self) -> dict[str, object]:
        return {text(node.named_children[0]): node.named_children[-1]
                for node, _ in self._declarations() if node.type == "output_declaration"}

    def resources(self) -> list[Resource]:
        found = []
        for node, _ in self._declarations():
            if node.type != "resource_declaration":
                continue
            symbol, kind, *rest = node.named_children
            body = rest[-1]
            condition = None
            if body.type == "if_statement":
                condition, body = body.named_children[0], body.named_children[-1]
            if body.type == "object":
                found.append(Resource(text(symbol), literal(kind), body, condition))
        return found

    def modules(self) -> dict[str, str]:
        """``{symbol: module path}`` of the module declarations."""
        return {text(node.named_children[0]): literal(node.named_children[1])
                for node, _ in self._declarations() if node.type == "module_declaration"}

    def resources_of(self, provider: str) -> list[Resource]:
        return [r for r in self.resources() if r.provider.lower() == provider.lower()]


@functools.cache
def load(path: Path) -> BicepFile:
    return BicepFile(path)


def app_settings() -> dict[str, object]:
    """``{setting: value node}`` of the settings the function app always has (its ``appsettings`` config
    resource's object, or the first object of ``union({...}, conditional settings)``)."""
    return properties(_app_settings_parts()[0])


def conditional_app_settings() -> dict[str, dict[str, object]]:
    """``{variable: {setting: value node}}``: the settings merged in by ``union(...)`` only in some deployments
    (each a variable ``cond ? {} : {...}``; the non-empty branch is returned)."""
    variables = load(FUNCTION_APP).variables()
    found = {}
    for part in _app_settings_parts()[1:]:
        assert part.type == "identifier", f"union() argument {text(part)[:40]!r} is not a variable"
        value = variables[text(part)]
        branches = value.named_children[1:] if value.type == "ternary_expression" else [value]
        found[text(part)] = {k: v for branch in branches for k, v in properties(branch).items()}
    return found


def _app_settings_parts() -> list:
    for resource in load(FUNCTION_APP).resources_of("Microsoft.Web/sites/config"):
        if literal(get(resource.body, "name")) == "appsettings":
            value = get(resource.body, "properties")
            if value.type == "call_expression" and text(value.named_children[0]) == "union":
                return list(value.named_children[1].named_children)
            return [value]
    raise AssertionError("functionapp.bicep has no Microsoft.Web/sites/config 'appsettings' resource")


def key_vault_reference(node) -> bool:
    """True when every string a setting's value can take is a Key Vault reference or empty."""
    values = [n for n in strings_in(node) if _string_is_value(n, node)]
    return any(text(v).startswith("'@Microsoft.KeyVault(SecretUri=") for v in values)


def _string_is_value(string_node, root) -> bool:
    """Exclude strings that are only compared against (``mode == 'client_secret'``)."""
    parent = string_node.parent
    return not (parent is not None and parent.type == "binary_expression")


def possible_values(node) -> list:
    """The literal values a setting can take: a literal, or each branch of a ternary (``NotLiteral`` for expressions)."""
    if node.type == "ternary_expression":
        _, when_true, when_false = node.named_children
        return possible_values(when_true) + possible_values(when_false)
    if node.type == "parenthesized_expression":
        return possible_values(node.named_children[0])
    return [literal(node)]
