"""The Sociocs stand-in reads the documentation as strictly as Sociocs: media only on twlo, a `template`
only on WhatsApp and in each provider's shape, `video_url` on twlo."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from standins import SociocsStandin
from tests.conftest import API_KEY, CHANNEL_KEYS

pytestmark = pytest.mark.anyio


async def post(sociocs: SociocsStandin, **body: Any) -> httpx.Response:
    provider = body.setdefault("provider", "twlo")
    body.setdefault("channel_key", CHANNEL_KEYS[provider][0])
    body.setdefault("to", "+16175550100")
    async with httpx.AsyncClient() as client:
        return await client.post(f"{sociocs.url}/message", json=body, headers={"apikey": API_KEY})


def error(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["msg"])


@pytest.mark.parametrize("provider", ["twlowa", "gswa"])
@pytest.mark.parametrize(
    "media",
    [
        {"image_url": "https://example.com/a.png"},
        {"image_urls": ["https://example.com/a.png", "https://example.com/b.png"]},
        {"file_url": "https://example.com/a.pdf"},
        {"video_url": "https://example.com/a.mp4"},
    ],
)
async def test_media_on_whatsapp_is_refused(sociocs: SociocsStandin, provider: str, media: dict[str, Any]) -> None:
    response = await post(sociocs, provider=provider, text="hi", **media)
    assert response.status_code == 400
    assert "twlo only" in error(response)


async def test_video_on_sms_is_accepted(sociocs: SociocsStandin) -> None:
    response = await post(sociocs, video_url="https://example.com/a.mp4")
    assert response.status_code == 200, response.text
    bad = await post(sociocs, video_url="")
    assert bad.status_code == 400


async def test_template_on_sms_is_refused(sociocs: SociocsStandin) -> None:
    response = await post(sociocs, template={"id": "HX1"})
    assert response.status_code == 400
    assert "template" in error(response)


@pytest.mark.parametrize(
    ("provider", "template"),
    [
        ("twlowa", {"id": "HX0123", "variables": {"1": "Jane", "2": "A-1"}}),
        ("twlowa", {"id": "HX0123"}),
        (
            "gswa",
            {
                "id": "gs-1",
                "variables": {"MEDIA_URL": "https://example.com/a.png", "Header": {"1": "J"}, "Body": {"1": "x"}},
            },
        ),
        ("gswa", {"id": "gs-1", "variables": {"Buttons": {"1": "Yes"}}}),
    ],
)
async def test_templates_in_their_provider_shape_are_accepted(
    sociocs: SociocsStandin, provider: str, template: dict[str, Any]
) -> None:
    response = await post(sociocs, provider=provider, template=template)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("provider", "template"),
    [
        ("twlowa", "HX0123"),
        ("twlowa", {"variables": {"1": "a"}}),
        ("twlowa", {"id": ""}),
        ("twlowa", {"id": "HX1", "variables": {"Body": {"1": "a"}}}),  # gswa's shape on twlowa
        ("twlowa", {"id": "HX1", "variables": {"1": 5}}),
        ("twlowa", {"id": "HX1", "other": 1}),
        ("gswa", {"id": "gs-1", "variables": {"1": "a"}}),  # twlowa's shape on gswa
        ("gswa", {"id": "gs-1", "variables": {"Footer": {"1": "a"}}}),
        ("gswa", {"id": "gs-1", "variables": {"Body": {"1": 3}}}),
        ("gswa", {"id": "gs-1", "variables": {"MEDIA_URL": ""}}),
    ],
)
async def test_templates_in_another_shape_are_refused(sociocs: SociocsStandin, provider: str, template: Any) -> None:
    response = await post(sociocs, provider=provider, template=template)
    assert response.status_code == 400
    assert "template" in error(response)


async def test_text_with_a_template_is_refused(sociocs: SociocsStandin) -> None:
    response = await post(sociocs, provider="twlowa", template={"id": "HX1"}, text="hello")
    assert response.status_code == 400
