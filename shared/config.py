"""Typed application settings, read lazily from the environment (Azure app settings).

Every setting the code reads is a field below. Nested groups map to environment variables with a
double underscore: ``GRAPH__BASE_URL`` is ``Settings.graph.base_url``. Nothing is read at import
time; call :func:`get_settings` when a value is needed. Invalid settings raise
:class:`SettingsError`, whose message names each offending variable and what is wrong with it.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_DELIMITER = "__"


class SettingsError(Exception):
    """The app settings are missing or invalid; ``problems`` lists ``(VARIABLE, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        lines = "; ".join(f"{name}: {message}" for name, message in problems)
        super().__init__(f"invalid app settings: {lines}")


def is_loopback_url(url: str | None) -> bool:
    """True when ``url`` points at this machine (the only place a static token may be sent)."""
    if not url:
        return False
    host = urlsplit(str(url)).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class StorageSettings(BaseModel):
    """Frontdesk's own tables (claims, bookings, calls, subscriptions)."""

    connection_string: SecretStr | None = Field(
        None, description="Storage connection string (local/Azurite). Leave empty in Azure.")
    table_endpoint: AnyHttpUrl | None = Field(
        None, description="Table service URL used with the managed identity in Azure.")
    table_prefix: str = Field(
        "frontdesk", pattern=r"^[A-Za-z][A-Za-z0-9]{0,40}$",
        description="Prefix of every table name (letters and digits).")

    @model_validator(mode="after")
    def _one_way_in(self) -> "StorageSettings":
        if self.connection_string is None and self.table_endpoint is None:
            raise ValueError("set STORAGE__CONNECTION_STRING (local) or STORAGE__TABLE_ENDPOINT (Azure)")
        return self


class IdentitySettings(BaseModel):
    """How Frontdesk authenticates to Microsoft Graph and Dataverse."""

    mode: Literal["managed_identity", "client_secret", "certificate", "static_token"] = Field(
        "managed_identity", description="Credential kind; static_token only against local emulators.")
    tenant_id: str | None = Field(None, description="Entra tenant id (app registration modes).")
    client_id: str | None = Field(
        None, description="App registration client id, or the user-assigned managed identity's client id.")
    client_secret: SecretStr | None = Field(None, description="App registration secret (Key Vault reference).")
    certificate_path: str | None = Field(None, description="PEM certificate for the app registration.")
    static_token: SecretStr | None = Field(None, description="Bearer token for local emulators only.")

    @model_validator(mode="after")
    def _mode_has_what_it_needs(self) -> "IdentitySettings":
        needs = {
            "client_secret": ("tenant_id", "client_id", "client_secret"),
            "certificate": ("tenant_id", "client_id", "certificate_path"),
            "static_token": ("static_token",),
        }.get(self.mode, ())
        missing = [name for name in needs if getattr(self, name) in (None, "")]
        if missing:
            names = ", ".join(f"IDENTITY__{name.upper()}" for name in missing)
            raise ValueError(f"mode '{self.mode}' needs {names}")
        return self


class GraphSettings(BaseModel):
    """Microsoft Graph (Outlook calendars, mail, change notifications)."""

    base_url: AnyHttpUrl = Field(AnyHttpUrl("https://graph.microsoft.com/v1.0"),
                                 description="Graph endpoint; an emulator URL locally.")
    client_state_secret: SecretStr | None = Field(
        None, description="Secret echoed by Graph in every change notification (Key Vault reference).")
    max_retry_after_seconds: float = Field(
        30.0, gt=0, le=300, description="Longest Retry-After Frontdesk waits on a 429 before giving up.")
    timeout_seconds: float = Field(20.0, gt=0, le=120, description="Per-request timeout for Graph calls.")


class DataverseSettings(BaseModel):
    """Dynamics 365 / Dataverse Web API."""

    url: AnyHttpUrl | None = Field(
        None, description="Environment URL, e.g. https://contoso.crm.dynamics.com; empty disables Dynamics.")
    timeout_seconds: float = Field(20.0, gt=0, le=120, description="Per-request timeout for Dataverse calls.")
    max_retry_after_seconds: float = Field(
        30.0, gt=0, le=300, description="Longest service-protection Retry-After Frontdesk waits before giving up.")
    appointment_category: str = Field(
        "Frontdesk", min_length=1, max_length=250,
        description="Category on Frontdesk's CRM appointments; server-side sync filters it out (docs/DYNAMICS.md).")


class SmsSettings(BaseModel):
    """Which SMS gateway sends confirmations, and from which number."""

    provider: Literal["acs", "twilio", "none"] = Field("acs", description="acs, twilio or none.")
    from_number: str | None = Field(None, description="Sender number in E.164 (+15551234567).")
    default_region: str = Field("US", pattern=r"^[A-Z]{2}$",
                                description="Region (ISO 3166 alpha-2) for numbers given without a country code.")
    event_grid_secret: SecretStr | None = Field(
        None, min_length=12, description="Secret the Event Grid subscription for ACS SMS events carries in its "
                                         "endpoint URL (?key=...; Key Vault reference). Empty: every ACS event "
                                         "delivery is refused (docs/SECURITY.md).")
    cancel_confirm_minutes: int = Field(
        15, ge=1, le=1440, description="How long a texted C waits for its confirming C or YES before it lapses.")


class AcsSettings(BaseModel):
    """Azure Communication Services (SMS)."""

    endpoint: AnyHttpUrl | None = Field(None, description="ACS resource endpoint.")
    access_key: SecretStr | None = Field(
        None, description="ACS access key (Key Vault reference); empty uses the managed identity.")


class TwilioSettings(BaseModel):
    """Twilio (voice webhooks and, optionally, SMS)."""

    account_sid: str | None = Field(None, description="Twilio account SID (AC...).")
    auth_token: SecretStr | None = Field(
        None, description="Twilio auth token: signs webhooks and authenticates REST (Key Vault reference).")
    api_base_url: AnyHttpUrl | None = Field(None, description="Override of api.twilio.com (emulator locally).")
    voice: str = Field("Polly.Joanna", description="Text-to-speech voice for <Say>.")


class OpenAISettings(BaseModel):
    """Language understanding with OpenAI or Azure OpenAI (optional)."""

    kind: Literal["openai", "azure", "none"] = Field("none", description="openai, azure or none.")
    endpoint: AnyHttpUrl | None = Field(None, description="Base URL (Azure resource endpoint or OpenAI-compatible).")
    api_key: SecretStr | None = Field(None, description="API key (Key Vault reference); empty uses Entra ID for azure.")
    model: str = Field("gpt-4o-mini", description="Model or Azure deployment name.")
    api_version: str = Field("2024-10-21", description="Azure OpenAI API version.")
    timeout_seconds: float = Field(2.5, gt=0, le=10, description="Hard budget per understanding call.")


class VoiceSettings(BaseModel):
    """The phone receptionist (Twilio Voice webhooks)."""

    transfer_number: str | None = Field(
        None, description="Where a caller asking for a person is transferred during office hours (E.164); "
                          "empty: take a message instead.")
    on_call_number: str | None = Field(
        None, description="On-call technician for emergencies, any hour (E.164); empty: book the earliest "
                          "emergency time or take an urgent message.")
    office_hours: str = Field(
        "mon-fri 08:00-17:00", description="When someone can take a transfer, on the business's clock, like "
                                           "'mon-fri 08:00-17:00; sat 09:00-12:00'; empty: never.")
    hold_seconds: int = Field(300, ge=60, le=1800,
                              description="How long a chosen time is held while the caller confirms it.")
    model_budget_seconds: float = Field(
        2.0, gt=0, le=5, description="Longest a turn waits for the language model before the local parser answers.")
    emergency_within_hours: float = Field(
        4.0, gt=0, le=72, description="An emergency with no technician free within this many hours goes to the "
                                      "on-call number (when set).")

    @field_validator("transfer_number", "on_call_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        import re
        if value is not None and not re.fullmatch(r"\+[1-9]\d{6,14}", value.strip()):
            raise ValueError(f"{value!r} is not an E.164 number such as +13125550100")
        return value.strip() if value else value

    @field_validator("office_hours")
    @classmethod
    def _readable_hours(cls, value: str) -> str:
        from shared.domain.dialog.hours import parse_office_hours
        parse_office_hours(value)
        return value


class WebhookSettings(BaseModel):
    """Outbound webhooks: the business's other systems hear about created, rescheduled and cancelled bookings."""

    urls: str = Field(
        "", description="Comma-separated URLs that receive booking events (https; http only to loopback); "
                        "empty disables webhooks.")
    secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key signing each delivery (X-Frontdesk-Signature); required with "
                          "WEBHOOKS__URLS (Key Vault reference).")
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="Per-delivery timeout for a webhook POST.")

    @property
    def targets(self) -> tuple[str, ...]:
        """The configured URLs, in order, without blanks or repeats."""
        return tuple(dict.fromkeys(url.strip() for url in self.urls.split(",") if url.strip()))

    @model_validator(mode="after")
    def _targets_are_safe(self) -> "WebhookSettings":
        for url in self.targets:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http(s) URL")
            if parts.scheme == "http" and not is_loopback_url(url):
                raise ValueError(f"{url!r} must use https (signed booking data must not cross the network in clear)")
        if self.targets and (self.secret is None or len(self.secret.get_secret_value()) < 16):
            raise ValueError("WEBHOOKS__SECRET of at least 16 characters is required when WEBHOOKS__URLS is set")
        return self


class WidgetSettings(BaseModel):
    """The embeddable booking widget (``/api/widget``) and the Dynamics 365 web resource that hosts it."""

    allowed_origins: str = Field(
        "", description="Comma- or space-separated origins that may embed the widget in a frame and call it from "
                        "a browser (https://www.example.com, https://contoso.crm.dynamics.com, https://*.example.com); "
                        "empty: only the function app itself.")
    function_key: SecretStr | None = Field(
        None, description="The low-privilege function key named 'widget' on the booking routes, handed to browsers "
                          "by the widget page (Key Vault reference); empty: the widget shows times but cannot book.")

    @property
    def origins(self) -> tuple[str, ...]:
        """The allowed origins, normalised (lower case, no trailing slash), in order, without repeats."""
        return tuple(dict.fromkeys(_origin(item) for item in self.allowed_origins.replace(",", " ").split()))

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_origins(cls, value: str) -> str:
        for item in value.replace(",", " ").split():
            _origin(item)
        return value


def _origin(text: str) -> str:
    """``https://Example.com/`` -> ``https://example.com``; refuses paths, wildcards other than ``*.``, and http
    to anything but this machine (a widget framed over plain http could be altered on the way)."""
    if text.strip() == "*":
        raise ValueError("'*' would let any site frame the booking form; name the origins instead")
    parts = urlsplit(text.strip().rstrip("/"))
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or parts.path or parts.query or parts.fragment:
        raise ValueError(f"{text!r} is not an origin like https://www.example.com")
    if "*" in host and not (host.startswith("*.") and "*" not in host[2:] and "." in host[2:]):
        raise ValueError(f"{text!r}: a wildcard may only stand for subdomains, as in https://*.example.com")
    if parts.scheme == "http" and not is_loopback_url(text.replace("*.", "")):
        raise ValueError(f"{text!r} must use https")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


class ManageSettings(BaseModel):
    """Manage links: the signed link in a customer's texts that opens their booking (docs/SECURITY.md)."""

    link_secret: SecretStr | None = Field(
        None, min_length=12, description="HMAC key signing manage links (Key Vault reference); changing it ends "
                                         "every link already sent. Empty: texts say to call instead, and "
                                         "/api/manage answers that the link is not valid.")


class AvailabilitySettings(BaseModel):
    """How availability is read."""

    busy_cache_seconds: float = Field(
        10.0, ge=0, le=60, description="How long Outlook busy times are reused (claims are always read live).")


class RetentionSettings(BaseModel):
    """How long Frontdesk keeps each kind of record, and how much the hourly purge may do per run (docs/SECURITY.md)."""

    call_days: int = Field(30, ge=1, le=3650, description="Voice call state and its transcript, after the call's "
                                                           "last change.")
    claim_days: int = Field(1, ge=1, le=3650, description="Claims on a host's time, after the claimed time ended.")
    booking_days: int = Field(365, ge=1, le=3650, description="Bookings (and their sagas' Durable history), after "
                                                              "the appointment ended.")
    idempotency_days: int = Field(30, ge=1, le=3650, description="Idempotency-Key records, after first use.")
    subscription_days: int = Field(30, ge=1, le=3650, description="Graph subscription records of mailboxes no "
                                                                  "longer renewed, after they expired.")
    sms_intent_days: int = Field(2, ge=1, le=3650, description="SMS outbox intents (masked number, hashes, the "
                                                               "gateway's message id), after the text was sent: "
                                                               "retries and delivery reports come within a day.")
    sms_inbound_days: int = Field(2, ge=1, le=3650, description="Inbound SMS records (replay claims, pending 'C' "
                                                                "confirmations, do-once markers), after they were "
                                                                "made or lapsed: gateways retry for a day at most.")
    ratelimit_days: int = Field(1, ge=1, le=3650, description="Shared rate-limit buckets (hashed caller address), "
                                                              "after their last use: an idle bucket is full anyway.")
    durable_days: int = Field(455, ge=1, le=3650, description="Every finished orchestration's Durable history, after "
                                                              "it was created (a year plus the longest advance).")
    max_rows_per_run: int = Field(5000, ge=100, le=1_000_000, description="Rows and instances one purge run may "
                                                                          "delete; the next run continues.")
    max_seconds_per_run: float = Field(120.0, gt=0, le=540, description="Time one purge run may spend; the next run "
                                                                        "continues.")


class AuthSettings(BaseModel):
    """Who may call the booking routes with an Entra ID token (App Service Authentication, docs/SECURITY.md)."""

    easy_auth_enabled: bool = Field(
        False, description="True only when App Service Authentication (Entra ID) is on in front of the app (the "
                            "Bicep sets it with entraAuthEnabled): then the X-MS-CLIENT-PRINCIPAL headers, which the "
                            "platform strips from clients, are trusted on /api/entra/... routes; otherwise they are "
                            "ignored and those routes answer 401.")


class Settings(BaseSettings):
    """All of Frontdesk's settings."""

    model_config = SettingsConfigDict(
        env_nested_delimiter=ENV_DELIMITER, case_sensitive=False, extra="ignore",
        env_ignore_empty=True)

    business_config_path: str = Field(
        "config/business.example.yaml", description="Business configuration YAML (hosts, event types).")
    public_base_url: AnyHttpUrl | None = Field(
        None, description="Public https base URL of the function app (Twilio signatures, Graph webhooks).")
    durable_task_hub: str = Field("frontdesk", pattern=r"^[A-Za-z][A-Za-z0-9]{2,44}$",
                                  description="Durable Functions task hub name.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Frontdesk log level.")
    storage: StorageSettings = Field(default_factory=dict, validate_default=True)
    identity: IdentitySettings = IdentitySettings()
    graph: GraphSettings = GraphSettings()
    dataverse: DataverseSettings = DataverseSettings()
    sms: SmsSettings = SmsSettings()
    acs: AcsSettings = AcsSettings()
    twilio: TwilioSettings = TwilioSettings()
    openai: OpenAISettings = OpenAISettings()
    availability: AvailabilitySettings = AvailabilitySettings()
    voice: VoiceSettings = VoiceSettings()
    webhooks: WebhookSettings = WebhookSettings()
    widget: WidgetSettings = WidgetSettings()
    manage: ManageSettings = ManageSettings()
    auth: AuthSettings = AuthSettings()
    retention: RetentionSettings = RetentionSettings()

    @model_validator(mode="after")
    def _static_token_stays_local(self) -> "Settings":
        if self.identity.mode == "static_token":
            remote = [name for name, url in (("GRAPH__BASE_URL", self.graph.base_url),
                                             ("DATAVERSE__URL", self.dataverse.url))
                      if url is not None and not is_loopback_url(str(url))]
            if remote:
                raise ValueError(
                    f"IDENTITY__MODE=static_token may only be used with local emulators, not {', '.join(remote)}")
        return self


def setting_names(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """Every environment variable name the settings model reads, e.g. ``GRAPH__BASE_URL``."""
    names: list[str] = []
    for field_name, field in model.model_fields.items():
        annotation = field.annotation
        env_name = f"{prefix}{field_name.upper()}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(setting_names(annotation, env_name + ENV_DELIMITER))
        else:
            names.append(env_name)
    return names


def _env_name(location: tuple) -> str:
    parts = [str(part) for part in location if not isinstance(part, int)]
    return ENV_DELIMITER.join(parts).upper() or "SETTINGS"


def load_settings(**overrides) -> Settings:
    """Read and validate settings now, raising :class:`SettingsError` with friendly messages."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = _env_name(error.get("loc", ()))
            message = error.get("msg", "invalid").removeprefix("Value error, ")
            if error.get("type") == "missing":
                message = "is required but not set"
            problems.append((name, message))
        raise SettingsError(problems) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the development host change the environment)."""
    get_settings.cache_clear()


# ---------------------------------------------------------------- the business configuration file

def _yaml_line(root, path: str) -> int | None:
    """The 1-based line of the YAML node at ``path`` (``hosts[2].working_hours[0]``), or its nearest parent."""
    import re

    import yaml
    node, line = root, None
    for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if node is None:
            break
        line = node.start_mark.line + 1
        if index and isinstance(node, yaml.SequenceNode):
            position = int(index)
            node = node.value[position] if position < len(node.value) else None
        elif key and isinstance(node, yaml.MappingNode):
            node = next((value for name, value in node.value if getattr(name, "value", None) == key), None)
        else:
            node = None
    return node.start_mark.line + 1 if node is not None else line


def load_business_config(path: str | None = None):
    """Read and validate the business configuration YAML (default: the ``BUSINESS_CONFIG_PATH`` setting).

    Returns a :class:`shared.domain.business.BusinessConfig`. Any problem raises
    :class:`shared.domain.business.BusinessConfigError`, each message naming the exact field path
    and, where it can, the line of the file: ``hosts[2].working_hours[1].hours[0] (line 57): ...``.
    """
    from pathlib import Path

    import yaml

    from shared.domain.business import BusinessConfigError, parse_business_config

    if path is None:
        path = get_settings().business_config_path
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BusinessConfigError([("(file)", f"cannot read {source}: {exc.strerror or exc}")], source) from None
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise BusinessConfigError([("(yaml)", f"{where}{problem}")], source) from None
    try:
        return parse_business_config(data, source)
    except BusinessConfigError as exc:
        located = []
        for field_path, message in exc.problems:
            line = _yaml_line(root, field_path) if root is not None else None
            located.append((field_path, f"{message} (line {line})" if line else message))
        raise BusinessConfigError(located, source) from None
