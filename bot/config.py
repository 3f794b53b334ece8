"""Configuration: one typed model read from the environment (and `.env`) by pydantic-settings.

A missing or malformed setting must stop the program with one line naming the variable, so every
check here raises `ConfigError` with that line, and `load_settings` turns pydantic's errors into it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.draft import Rules
from bot.domain.phone import DEFAULT_NUMBER_TYPES, NUMBER_TYPES
from bot.domain.policy import Policy
from bot.domain.providers import PROVIDER_ORDER, Provider
from bot.domain.templates import EMPTY, Catalogue, CatalogueError, load_catalogue

Mode = Literal["socket", "http"]


class ConfigError(Exception):
    """A setting that stops the program; `str()` is the one line shown to the admin."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore", case_sensitive=False
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_mode: Mode | None = None
    host: str = "0.0.0.0"
    port: int = Field(3000, ge=0, le=65535)
    slack_api_url: str = "https://slack.com/api/"

    sociocs_api_key: SecretStr | None = None
    sociocs_base_url: str = "https://api.sociocs.com"
    sociocs_channel_key_twlo: SecretStr | None = None
    sociocs_channel_key_twlowa: SecretStr | None = None
    sociocs_channel_key_gswa: SecretStr | None = None
    sociocs_default_provider: Provider | None = None
    sociocs_whatsapp_provider: Provider | None = None
    sociocs_timeout_seconds: float = Field(15.0, gt=0, le=300)
    sociocs_dry_run: bool = False
    sociocs_max_concurrency: int = Field(64, ge=1, le=256)

    default_region: str | None = None
    max_recipients: int = Field(10, ge=1, le=100)
    allowed_number_types: Annotated[frozenset[str], NoDecode] = DEFAULT_NUMBER_TYPES
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    shutdown_grace_seconds: float = Field(20.0, ge=0, le=3600)
    log_phone_numbers: bool = False

    # The ledger and the guardrails.
    database_url: str = "sqlite:///./data/sociocs-bot.db"
    allowed_user_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    allowed_usergroup_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    allowed_channel_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    allowed_countries: Annotated[frozenset[str], NoDecode] = frozenset()
    # Slack users who may block/unblock numbers and cancel anyone's scheduled message.
    admin_user_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    rate_limit_per_user_per_minute: int | None = Field(None, ge=1, le=10000)
    ledger_recovery_seconds: float = Field(20.0, ge=1, le=3600)

    # Delivery status and customer replies (Sociocs webhooks).
    sociocs_webhook_secret: SecretStr | None = None
    inbox_channel_id: str | None = None
    public_url: str | None = None
    # Slack files sent to customers (re-hosted at PUBLIC_URL/media/...): how long a link stays valid.
    media_url_ttl_seconds: int = Field(86400, ge=60, le=30 * 86400)

    # Approved WhatsApp templates (a TOML catalogue; see templates.example.toml).
    sociocs_templates_file: Path | None = None

    # Contacts (#14): explicit Slack user → Sociocs team member, `U123:sociocs_id,...`.
    sociocs_user_map: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    @field_validator("sociocs_user_map", mode="before")
    @classmethod
    def _user_map(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_user_map(value)
        return value

    # Conversations (issue 17): where each provider's new conversations start, and when a closed one
    # that the customer reopens gets a new thread.
    inbox_channel_id_twlo: str | None = None
    inbox_channel_id_twlowa: str | None = None
    inbox_channel_id_gswa: str | None = None
    conversation_new_thread_hours: float = Field(72.0, gt=0, le=24 * 365)

    @field_validator(
        "allowed_user_ids",
        "allowed_usergroup_ids",
        "allowed_channel_ids",
        "allowed_countries",
        "allowed_number_types",
        "admin_user_ids",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("allowed_countries")
    @classmethod
    def _known_countries(cls, value: frozenset[str]) -> frozenset[str]:
        upper = frozenset(v.upper() for v in value)
        unknown = sorted(upper - phonenumbers.SUPPORTED_REGIONS)
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not an ISO country code such as US, GB or IN")
        return upper

    @field_validator("allowed_number_types")
    @classmethod
    def _known_number_types(cls, value: frozenset[str]) -> frozenset[str]:
        lower = frozenset(v.lower() for v in value)
        unknown = sorted(lower - NUMBER_TYPES.keys())
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a number type: use some of {', '.join(NUMBER_TYPES)}")
        if not lower:
            raise ValueError("list at least one number type, such as mobile, fixed_line, fixed_line_or_mobile")
        return lower

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL like https://bot.example.com")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgres:", "postgresql+psycopg:")):
            raise ValueError("use sqlite:///PATH or postgresql://USER@HOST/DB")
        return value

    @field_validator("slack_mode", "sociocs_default_provider", "sociocs_whatsapp_provider", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        """Words people type in any case: `HTTP`, `SMS`, `Json`."""
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not an ISO country code such as US, GB or IN")
        return region

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"{value!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("sociocs_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    # Derived values -------------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        if self.slack_mode is not None:
            return self.slack_mode
        return "socket" if self.slack_app_token else "http"

    @property
    def channel_keys(self) -> dict[Provider, str]:
        keys = {
            Provider.TWLO: self.sociocs_channel_key_twlo,
            Provider.TWLOWA: self.sociocs_channel_key_twlowa,
            Provider.GSWA: self.sociocs_channel_key_gswa,
        }
        return {p: k.get_secret_value() for p, k in keys.items() if k is not None}

    @property
    def inbox_channels(self) -> dict[Provider, str]:
        """Where a new conversation on each configured provider starts (INBOX_CHANNEL_ID as fallback)."""
        own = {
            Provider.TWLO: self.inbox_channel_id_twlo,
            Provider.TWLOWA: self.inbox_channel_id_twlowa,
            Provider.GSWA: self.inbox_channel_id_gswa,
        }
        found = {p: own[p] or self.inbox_channel_id for p in self.channel_keys}
        return {p: c for p, c in found.items() if c}

    @property
    def default_provider(self) -> Provider | None:
        if self.sociocs_default_provider is not None:
            return self.sociocs_default_provider
        keys = self.channel_keys
        # A dry run with nothing configured (the console's first run) still shows an SMS payload.
        return next((p for p in PROVIDER_ORDER if p in keys), Provider.TWLO if self.dry_run else None)

    @property
    def whatsapp_provider(self) -> Provider:
        if self.sociocs_whatsapp_provider is not None:
            return self.sociocs_whatsapp_provider
        return Provider.TWLOWA if Provider.TWLOWA in self.channel_keys else Provider.GSWA

    @property
    def dry_run(self) -> bool:
        """Dry run when asked for, or when there is no API key to send with."""
        return self.sociocs_dry_run or self.sociocs_api_key is None

    def policy(self) -> Policy:
        """Who may send, from where, to which countries, how often."""
        return Policy(
            allowed_users=self.allowed_user_ids,
            allowed_groups=self.allowed_usergroup_ids,
            allowed_channels=self.allowed_channel_ids,
            allowed_countries=self.allowed_countries,
            rate_limit_per_minute=self.rate_limit_per_user_per_minute,
        )

    def rules(self) -> Rules:
        return Rules(
            channel_keys=self.channel_keys,
            default_provider=self.default_provider,
            default_region=self.default_region,
            max_recipients=self.max_recipients,
            dry_run=self.dry_run,
            allowed_number_types=self.allowed_number_types,
            templates=self.catalogue(),
        )

    def catalogue(self) -> Catalogue:
        """The template catalogue (empty without SOCIOCS_TEMPLATES_FILE); ConfigError naming the file,
        the template and the field when it is wrong."""
        if self.sociocs_templates_file is None:
            return EMPTY
        try:
            return load_catalogue(self.sociocs_templates_file)
        except CatalogueError as exc:
            raise ConfigError(f"SOCIOCS_TEMPLATES_FILE {exc}") from None

    # Checks by use ---------------------------------------------------------------------------------

    def check_sending(self) -> None:
        """What any use that sends (or dry-runs) needs: consistent provider settings."""
        keys = self.channel_keys
        if self.sociocs_default_provider is not None and self.sociocs_default_provider not in keys and not self.dry_run:
            p = self.sociocs_default_provider
            raise ConfigError(f"SOCIOCS_DEFAULT_PROVIDER is {p.value} but {p.channel_key_setting} is not set")
        if self.sociocs_whatsapp_provider is not None and self.sociocs_whatsapp_provider is Provider.TWLO:
            raise ConfigError("SOCIOCS_WHATSAPP_PROVIDER must be twlowa or gswa, not twlo (that is SMS)")
        self.catalogue()

    def check_serving(self) -> None:
        """What serving Slack needs; raises ConfigError naming the first missing or wrong variable."""
        self.check_sending()
        token = self.slack_bot_token.get_secret_value() if self.slack_bot_token else ""
        if not token:
            raise ConfigError("SLACK_BOT_TOKEN is required to serve Slack (the xoxb-... bot token)")
        if not token.startswith("xoxb-"):
            raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if self.mode == "socket":
            app_token = self.slack_app_token.get_secret_value() if self.slack_app_token else ""
            if not app_token:
                raise ConfigError("SLACK_APP_TOKEN is required in socket mode (the xapp-... app-level token)")
            if not app_token.startswith("xapp-"):
                raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        elif not self.slack_signing_secret:
            raise ConfigError("SLACK_SIGNING_SECRET is required in http mode (Basic Information > Signing Secret)")
        if not self.channel_keys:
            raise ConfigError("SOCIOCS_CHANNEL_KEY_TWLO, _TWLOWA or _GSWA: set at least one channel key to serve")
        if self.sociocs_api_key is None and not self.sociocs_dry_run:
            raise ConfigError("SOCIOCS_API_KEY is required to send (or set SOCIOCS_DRY_RUN=true)")

    @property
    def logging_level(self) -> int:
        return int(logging.getLevelName(self.log_level))

    def secrets(self) -> list[str]:
        """Every secret value, for the log scrubber."""
        values = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.sociocs_api_key,
            self.sociocs_webhook_secret,
            self.sociocs_channel_key_twlo,
            self.sociocs_channel_key_twlowa,
            self.sociocs_channel_key_gswa,
        ]
        secrets = [v.get_secret_value() for v in values if v is not None]
        from sqlalchemy.engine import make_url

        password = make_url(self.database_url).password
        return [*secrets, str(password)] if password else secrets


def parse_user_map(raw: str | None) -> dict[str, str]:
    """`U123:abc,U456:def` → {"U123": "abc", "U456": "def"}; ValueError naming a malformed entry."""
    mapping: dict[str, str] = {}
    for entry in (raw or "").split(","):
        if not entry.strip():
            continue
        slack_id, sep, sociocs_id = entry.strip().partition(":")
        if not sep or not slack_id.strip() or not sociocs_id.strip():
            raise ValueError(f"{entry.strip()!r} is not SLACK_USER_ID:SOCIOCS_USER_ID")
        mapping[slack_id.strip()] = sociocs_id.strip()
    return mapping


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    name = "_".join(str(part) for part in first["loc"]).upper() or "configuration"
    message = str(first["msg"]).removeprefix("Value error, ")
    value = first.get("input")
    shown = ""
    if isinstance(value, str | int | float) and "KEY" not in name and "TOKEN" not in name and "SECRET" not in name:
        shown = f" (got {value!r})"
    return f"{name}: {message}{shown}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, raising ConfigError with one line naming the variable on any problem."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
