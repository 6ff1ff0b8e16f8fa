"""No secret value appears in the templates, the parameters file or azure.yaml."""

import json
import re

import pytest

from bicep_tree import INFRA, ROOT, literal, load, text

MAIN = INFRA / "main.bicep"
PARAMETERS = INFRA / "main.parameters.json"
ENV_REFERENCE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(=[^}]*)?\}$")
GENERATED = re.compile(r"^\$\(secretOrRandomPassword \$\{AZURE_KEY_VAULT_NAME\} [a-z0-9-]+\)$")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

SECRET_PATTERNS = {
    "storage account key": re.compile(r"AccountKey=", re.I),
    "SAS token": re.compile(r"(SharedAccessSignature=|[?&]sig=)", re.I),
    "OpenAI key": re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "Twilio auth token or hex key": re.compile(r"(?<![0-9a-f-])[0-9a-f]{32}(?![0-9a-f-])", re.I),
    "base64 key": re.compile(r"[A-Za-z0-9+/]{40,}={0,2}"),
    # Secret *names* are kebab-case ('twilio-auth-token'); a value in that position is anything else.
    "password assignment": re.compile(r"(password|secret|token|apikey|api_key)\s*[:=]\s*'(?![a-z][a-z0-9]*(-[a-z0-9]+)+')[^'$]{6,}'",
                                      re.I),
    "instrumentation key": re.compile(r"InstrumentationKey=[0-9a-f-]{36}", re.I),
}


def looks_random(candidate: str) -> bool:
    """Keys mix digits and both cases; resource type paths (Storage/storageAccounts/...) do not."""
    return all(sum(test(c) for c in candidate) >= 2 for test in (str.isdigit, str.isupper, str.islower))


def secret_findings(content: str) -> list[str]:
    findings = []
    for label, pattern in SECRET_PATTERNS.items():
        for match in pattern.finditer(content):
            found = match.group(0)
            if GUID.match(found) or (label == "base64 key" and not looks_random(found)):
                continue
            findings.append(f"{label}: {found[:24]}...")
    return findings


def scanned_files():
    return sorted(INFRA.rglob("*.bicep")) + sorted(INFRA.rglob("*.json")) + [ROOT / "azure.yaml"]


@pytest.mark.parametrize("path", scanned_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_file_contains_nothing_that_looks_like_a_secret(path):
    assert secret_findings(path.read_text()) == []


@pytest.mark.parametrize("planted", [
    "value: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc=='",
    "authToken: '0123456789abcdef0123456789abcdef'",
    "key: 'sk-proj-abcdefghijklmnopqrstuv'",
    "password: 'Winter2026!'",
])
def test_the_scan_catches_planted_secrets(planted):
    assert secret_findings(planted)


def test_secure_parameters_have_no_default_but_empty():
    for path in INFRA.rglob("*.bicep"):
        for param in load(path).params().values():
            if param.secure and param.default is not None:
                assert literal(param.default) == "", f"{path.name}: @secure() {param.name} has a default value"


def test_secrets_in_parameters_file_come_from_the_environment_or_are_generated():
    declared = load(MAIN).params()
    for name, entry in json.loads(PARAMETERS.read_text())["parameters"].items():
        value = entry.get("value")
        assert "reference" not in entry, "Key Vault parameter references would need a vault before the vault exists"
        assert isinstance(value, str) and (ENV_REFERENCE.match(value) or GENERATED.match(value)), (
            f"{name} is a literal in main.parameters.json; map it to an azd environment variable")
        if declared[name].secure:
            assert "=" not in value.replace("${AZURE_KEY_VAULT_NAME}", ""), f"secure {name} has a default in the file"


def test_generated_client_state_is_read_back_from_the_vault_it_is_written_to():
    entry = json.loads(PARAMETERS.read_text())["parameters"]["graphClientStateSecret"]["value"]
    secret_name = entry.split()[-1].rstrip(")")
    assert f"graphClientState: '{secret_name}'" in MAIN.read_text()


def test_no_output_exposes_a_secure_parameter():
    main = load(MAIN)
    secure = {name for name, param in main.params().items() if param.secure}
    for name, value in main.outputs().items():
        assert not {text(n) for n in _identifiers(value)} & secure, f"output {name} leaks a secret"
        assert "secret" not in name.lower() and "password" not in name.lower()


def _identifiers(node):
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "identifier":
            yield current
        stack.extend(current.named_children)
