"""WhatsApp templates: the catalogue of approved templates, and one template filled in for a send.

WhatsApp lets a business start (or restart, 24 hours after the customer last wrote) a conversation
only with a template it approved, sent exactly as approved. Sociocs has no endpoint listing them, so
an admin keeps a TOML catalogue (`SOCIOCS_TEMPLATES_FILE`); it is checked at start, so a typo stops
the bot there rather than failing a send later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.domain.providers import Provider

VALUE_SEPARATOR = " | "  # between a template's values in `/sms ... --template NAME v1 | v2`
MAX_VALUE_LENGTH = 1024  # WhatsApp's limit for one body parameter
_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_GSWA_KEY = re.compile(r"^(Header|Body|Buttons)\.([1-9]\d*)$")


class CatalogueError(ValueError):
    """The catalogue file cannot be used; `str()` is one line naming the file, the template and the field."""


class Template(BaseModel):
    """One approved template, as written in the catalogue."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    provider: Literal["twlowa", "gswa"]
    id: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=4096)
    variables: tuple[str, ...] = ()
    labels: tuple[str, ...] | None = None
    media: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Template:
        if len(set(self.variables)) != len(self.variables):
            raise ValueError("variables: a key is listed twice")
        if self.labels is not None and len(self.labels) != len(self.variables):
            raise ValueError(f"labels: {len(self.labels)} labels for {len(self.variables)} variables")
        if self.provider == "twlowa":
            if self.media:
                raise ValueError("media: only gswa templates take a media header through Sociocs")
            bad = [v for v in self.variables if not v.isdigit()]
            if bad:
                raise ValueError(f'variables: twlowa keys are numbers like "1", not {bad[0]!r}')
            placeholders = set(_PLACEHOLDER.findall(self.text))
            if placeholders != set(self.variables):
                shown = ", ".join(f"{{{{{p}}}}}" for p in sorted(placeholders, key=int)) or "none"
                raise ValueError(f"variables: {list(self.variables)} do not match the placeholders of text ({shown})")
        else:
            bad = [v for v in self.variables if not _GSWA_KEY.match(v)]
            if bad:
                raise ValueError(f"variables: gswa keys are Header.N, Body.N or Buttons.N, not {bad[0]!r}")
        return self

    @property
    def provider_code(self) -> Provider:
        return Provider(self.provider)

    def label(self, index: int) -> str:
        """What the person fills in for the index-th variable."""
        if self.labels is not None:
            return self.labels[index]
        return f"Value {self.variables[index]}"

    def all_labels(self) -> list[str]:
        return [self.label(i) for i in range(len(self.variables))]


class Catalogue(BaseModel):
    """Every template in the file, names unique."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    templates: tuple[Template, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        seen: set[str] = set()
        for template in self.templates:
            if template.name in seen:
                raise ValueError(f"name: {template.name!r} is used by two templates")
            seen.add(template.name)
        return self

    def get(self, name: str) -> Template | None:
        return next((t for t in self.templates if t.name == name), None)

    def for_provider(self, provider: Provider) -> list[Template]:
        return [t for t in self.templates if t.provider == provider.value]


EMPTY = Catalogue()


def _where(data: Any, loc: Sequence[int | str]) -> tuple[str, str]:
    """(template, field) for an error location such as ('templates', 2, 'variables', 0)."""
    if len(loc) >= 2 and loc[0] == "templates" and isinstance(loc[1], int):
        name = "?"
        try:
            name = str(data["templates"][loc[1]].get("name", f"#{loc[1] + 1}"))
        except (KeyError, IndexError, TypeError, AttributeError):
            name = f"#{loc[1] + 1}"
        return name, str(loc[2]) if len(loc) > 2 else "(the template)"
    return "-", ".".join(str(p) for p in loc) or "(the file)"


def load_catalogue(path: Path) -> Catalogue:
    """Read and check the catalogue; CatalogueError with one line naming file, template and field."""
    import tomllib  # here, not at the top: only a bot with a catalogue file reads TOML (3 ms of start-up)

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: not valid TOML ({exc})") from None
    names = [t.get("name") for t in data.get("templates", []) if isinstance(t, dict)]
    twice = next((n for i, n in enumerate(names) if n is not None and n in names[:i]), None)
    if twice is not None:
        raise CatalogueError(f"{path}: template {twice}: name: used by two templates")
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        template, field = _where(data, first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if field == "(the template)" and ": " in message:
            field, _, message = message.partition(": ")
        raise CatalogueError(f"{path}: template {template}: {field}: {message}") from None


@dataclass(frozen=True, slots=True)
class TemplateUse:
    """A template with a value for each of its variables, ready for a payload."""

    template: Template
    values: tuple[str, ...]
    media_url: str | None = None

    def filled_text(self) -> str:
        """The approved text with the values in place of its placeholders (for previews)."""
        by_number: dict[str, str] = {}
        for key, value in zip(self.template.variables, self.values, strict=True):
            if key.isdigit():
                by_number[key] = value
            elif key.startswith("Body."):
                by_number[key.removeprefix("Body.")] = value
        return _PLACEHOLDER.sub(lambda m: by_number.get(m.group(1), m.group(0)), self.template.text)

    def template_object(self) -> dict[str, Any]:
        """The `template` field of `POST /message`, in the shape Sociocs documents per provider."""
        body: dict[str, Any] = {"id": self.template.id}
        pairs = list(zip(self.template.variables, self.values, strict=True))
        if self.template.provider == "twlowa":
            if pairs:
                body["variables"] = dict(pairs)
            return body
        variables: dict[str, Any] = {}
        for key, value in pairs:
            component, _, number = key.partition(".")
            variables.setdefault(component, {})[number] = value
        if self.media_url is not None:
            variables["MEDIA_URL"] = self.media_url
        if variables:
            body["variables"] = variables
        return body

    def to_record(self) -> dict[str, Any]:
        """What the ledger keeps, so a Retry sends the same template with the same values."""
        return {
            "template": self.template.model_dump(mode="json"),
            "values": list(self.values),
            "media_url": self.media_url,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TemplateUse:
        return cls(Template.model_validate(record["template"]), tuple(record["values"]), record.get("media_url"))


class TemplateRefused(ValueError):
    """A template use that cannot be sent; `field` is the form block at fault."""

    def __init__(self, field: Literal["template", "images", "provider"], message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def names_of(templates: Sequence[Template]) -> str:
    return ", ".join(t.name for t in templates) or "none"


def resolve(
    catalogue: Catalogue, provider: Provider, name: str, values: Sequence[str], image_urls: Sequence[str]
) -> TemplateUse:
    """The named template of `provider` filled with `values` (in order); TemplateRefused saying what to fix."""
    if provider.is_sms:
        raise TemplateRefused("template", f"Templates are for WhatsApp; {provider.label} sends your text as it is.")
    offered = catalogue.for_provider(provider)
    template = next((t for t in offered if t.name == name), None)
    if template is None:
        listed = f"its templates are: {names_of(offered)}" if offered else "it has no templates in the catalogue"
        raise TemplateRefused("template", f"There is no template {name!r} for {provider.label}; {listed}.")
    cleaned = tuple(v.strip() for v in values)
    if len(cleaned) != len(template.variables):
        labels = VALUE_SEPARATOR.join(template.all_labels()) or "(no values)"
        raise TemplateRefused(
            "template",
            f"The template {template.name} takes {len(template.variables)} value(s), in this order, separated by "
            f"{VALUE_SEPARATOR.strip()!r}: {labels}. You gave {len(cleaned)}.",
        )
    for index, value in enumerate(cleaned):
        if not value:
            raise TemplateRefused("template", f"{template.label(index)} is empty: WhatsApp needs a value for it.")
        if len(value) > MAX_VALUE_LENGTH:
            raise TemplateRefused("template", f"{template.label(index)} is longer than {MAX_VALUE_LENGTH} characters.")
    media_url: str | None = None
    if template.media:
        if len(image_urls) != 1:
            raise TemplateRefused(
                "images", f"The template {template.name} has a media header: give exactly one image link for it."
            )
        media_url = image_urls[0]
    elif image_urls:
        raise TemplateRefused(
            "images", f"The template {template.name} has no media header, and {provider.label} takes no images."
        )
    return TemplateUse(template, cleaned, media_url)


def split_values(message: str) -> list[str]:
    """A command's MESSAGE read as template values: ` | ` between them (an empty message: none)."""
    return [] if not message.strip() else message.split(VALUE_SEPARATOR)


def media_refusal(provider: Provider, what: str) -> str:
    """Why `what` (images, a video, a file) cannot go to `provider`."""
    return (
        f"{provider.label} takes no {what} through Sociocs (media is for SMS (Twilio) only): "
        "send it by SMS, or put the link in the text."
    )
