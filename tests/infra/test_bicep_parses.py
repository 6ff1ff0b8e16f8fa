"""Every Bicep file parses, and the modules are wired the way their parameters say (an offline `bicep build`)."""

import json
import re

import pytest

from bicep_tree import INFRA, BicepFile, bicep_files, get, literal, load, properties, text

MAIN = INFRA / "main.bicep"
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def test_there_are_templates_to_check():
    names = {path.relative_to(INFRA).as_posix() for path in bicep_files()}
    assert {"main.bicep", "modules/functionapp.bicep", "modules/rbac.bicep", "modules/keyvault.bicep"} <= names


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_parses_without_errors(path):
    assert load(path).syntax_problems() == []


def test_the_parser_reports_broken_bicep(tmp_path):
    broken = tmp_path / "broken.bicep"
    broken.write_text("resource site 'Microsoft.Web/sites@2024-04-01' = {\n  name: 'x'\n  properties: {\n")
    assert BicepFile(broken).syntax_problems()


def module_calls():
    main = load(MAIN)
    for node in main.root.named_children:
        if node.type == "module_declaration":
            symbol, path, *rest = node.named_children
            body = rest[-1]
            if body.type == "if_statement":
                body = body.named_children[-1]
            yield text(symbol), INFRA / literal(path), properties(get(body, "params"))


@pytest.mark.parametrize("symbol,path,args", list(module_calls()), ids=lambda v: v if isinstance(v, str) else "")
def test_module_is_called_with_exactly_its_parameters(symbol, path, args):
    assert path.exists(), f"main.bicep module {symbol} points at missing {path}"
    declared = load(path).params()
    unknown = sorted(set(args) - set(declared))
    missing = sorted(name for name, param in declared.items() if param.default is None and name not in args)
    assert not unknown, f"{symbol}: {path.name} has no parameter(s) {unknown}"
    assert not missing, f"{symbol}: required parameter(s) {missing} of {path.name} not passed"


def test_every_module_file_is_used():
    used = {path for _, path, _ in module_calls()}
    assert set(INFRA.glob("modules/*.bicep")) == used


def test_loaded_files_exist():
    for path in bicep_files():
        for name in re.findall(r"loadTextContent\('([^']+)'\)", path.read_text()):
            assert (path.parent / name).exists(), f"{path.name} loads missing {name}"


def test_resources_use_released_api_versions():
    for path in bicep_files():
        for resource in load(path).resources():
            assert API_VERSION.match(resource.api_version), f"{path.name}: {resource.type} is a preview or undated API"


def test_parameters_file_feeds_only_declared_parameters_and_every_required_one():
    declared = load(MAIN).params()
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert sorted(set(given) - set(declared)) == []
    required = {name for name, param in declared.items() if param.default is None}
    assert sorted(required - set(given)) == []
