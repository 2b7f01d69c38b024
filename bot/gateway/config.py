"""The gateway's own view of the settings: where Rasa (and its replicas) is, and the API tokens."""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.settings import Settings


@dataclass(frozen=True)
class GatewayConfig:
    rasa_url: str
    actions_url: str
    api_tokens: frozenset = field(default_factory=frozenset)
    rasa_urls: tuple = ()  # the replicas of the production profile; empty: rasa_url alone
    timeout_s: float = 10.0  # how long one Rasa request may take
    rasa_token: str = ""  # Rasa's --auth-token (RASA_AUTH_TOKEN), sent with every call to Rasa

    @classmethod
    def from_settings(cls, settings: Settings) -> "GatewayConfig":
        return cls(
            settings.rasa_base_url, settings.actions_base_url, settings.tokens,
            rasa_urls=tuple(settings.rasa_base_urls), timeout_s=settings.chat_timeout_s,
            rasa_token=settings.rasa_auth_token,
        )
