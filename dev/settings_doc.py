"""Write docs/SETTINGS.md and check local.settings.sample.json from the one settings model.

`python -m dev.settings_doc` rewrites the doc; tests call `describe_settings()` to check that the
sample file, the doc and the model agree.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from shared.config import ENV_DELIMITER, Settings

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "SETTINGS.md"
SAMPLE = ROOT / "local.settings.sample.json"
# Read by the Functions host itself, not by Frontdesk's code.
HOST_SETTINGS = {
    "AzureWebJobsStorage": "Storage for the Functions host and the Durable task hub (identity-based `__` settings in Azure).",
    "FUNCTIONS_WORKER_RUNTIME": "Always `python`.",
    "AzureWebJobsFeatureFlags": "Functions host feature flags (`EnableWorkerIndexing` for the v2 model on older hosts).",
}


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None or value == {}:
        return ""
    return str(value)


def describe_settings(model: type[BaseModel] = Settings, prefix: str = "") -> list[tuple[str, str, str]]:
    """``(VARIABLE, default, description)`` for every setting Frontdesk reads."""
    rows: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        env_name = f"{prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(describe_settings(annotation, env_name + ENV_DELIMITER))
        else:
            rows.append((env_name, _default(field), field.description or ""))
    return rows


def render_doc() -> str:
    lines = [
        "# Settings",
        "",
        "Every app setting Frontdesk reads, generated from `shared/config.py` by `python -m dev.settings_doc`",
        "(do not edit by hand). Nested groups use a double underscore: `GRAPH__BASE_URL`. Secrets are Key Vault",
        "references in Azure and never appear in logs or health answers. `local.settings.sample.json` lists the",
        "same names; the Bicep app settings set them in Azure.",
        "",
        "| setting | default | what it is for |",
        "|---|---|---|",
    ]
    lines += [f"| `{name}` | {('`' + default + '`') if default else ''} | {text} |" for name, default, text in describe_settings()]
    lines += ["", "Read by the Functions host (not by Frontdesk's code):", "",
              "| setting | what it is for |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in HOST_SETTINGS.items()]
    return "\n".join(lines) + "\n"


def sample_names() -> set[str]:
    return set(json.loads(SAMPLE.read_text())["Values"])


if __name__ == "__main__":
    DOC.write_text(render_doc())
    print(f"wrote {DOC.relative_to(ROOT)}")
