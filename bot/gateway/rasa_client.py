"""HTTP client for the Rasa server and the action server.

Rasa's HTTP API runs with ``--auth-token`` (bot/runtime/stack.py); `token` is sent as
Rasa expects it, the ``token`` query parameter, on every call to Rasa (never to the
action server, which has no such token).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import aiohttp


class RasaUnavailable(RuntimeError):
    """Rasa did not answer (not started yet, restarting, or overloaded)."""


@dataclass
class RasaClient:
    rasa_url: str
    actions_url: str
    timeout_s: float = 10.0
    token: str = ""
    _session: Optional[aiohttp.ClientSession] = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))

    async def close(self) -> None:
        if self._session:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("RasaClient.start() was not awaited")
        return self._session

    @property
    def _auth(self) -> Dict[str, str]:
        return {"token": self.token} if self.token else {}

    async def _post(self, url: str, payload: Dict[str, Any]) -> Any:
        try:
            async with self.session.post(url, json=payload, params=self._auth) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"{url} answered HTTP {response.status}")
                return await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise RasaUnavailable(f"{url}: {err.__class__.__name__}") from err

    async def parse(self, text: str) -> Dict[str, Any]:
        """Rasa's NLU result: intent, entities and our `scam_ranking`."""
        return await self._post(f"{self.rasa_url}/model/parse", {"text": text})

    async def send(self, sender: str, message: str) -> List[Dict[str, Any]]:
        """One turn through Rasa's REST channel; returns the bot's messages."""
        return await self._post(
            f"{self.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": message}
        )

    async def _is_ready(self, url: str, params: Optional[Dict[str, str]] = None) -> bool:
        try:
            async with self.session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def health(self) -> Dict[str, str]:
        """State of each component: 'ready' or 'unavailable'."""
        # /status answers 200 once a model is loaded (needs --enable-api).
        rasa_ok = await self._is_ready(f"{self.rasa_url}/status", self._auth)
        actions_ok = await self._is_ready(f"{self.actions_url}/health")
        return {
            "rasa": "ready" if rasa_ok else "unavailable",
            "actions": "ready" if actions_ok else "unavailable",
        }
