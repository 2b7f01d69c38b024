"""HTTP client for the Rasa server and the action server."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp


class RasaUnavailable(RuntimeError):
    """Rasa did not answer (not started yet, restarting, or overloaded)."""


@dataclass
class RasaClient:
    rasa_url: str
    actions_url: str
    timeout_s: float = 10.0
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

    async def _post(self, url: str, payload: Dict[str, Any]) -> Any:
        try:
            async with self.session.post(url, json=payload) as response:
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

    async def tracker_events(self, sender: str) -> List[Dict[str, Any]]:
        """The conversation's events since its last restart (Rasa's HTTP API, --enable-api)."""
        url = f"{self.rasa_url}/conversations/{quote(sender, safe='')}/tracker"
        try:
            async with self.session.get(url, params={"include_events": "AFTER_RESTART"}) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"{url} answered HTTP {response.status}")
                return list((await response.json()).get("events") or [])
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise RasaUnavailable(f"{url}: {err.__class__.__name__}") from err

    async def actions_ready(self) -> bool:
        return await self._is_ready(f"{self.actions_url}/health", timeout_s=1.0)

    async def _is_ready(self, url: str, timeout_s: float = 2.0) -> bool:
        try:
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                return response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return False

    async def health(self) -> Dict[str, str]:
        """State of each component: 'ready' or 'unavailable'."""
        # /status answers 200 once a model is loaded (needs --enable-api).
        rasa_ok = await self._is_ready(f"{self.rasa_url}/status")
        actions_ok = await self._is_ready(f"{self.actions_url}/health")
        return {
            "rasa": "ready" if rasa_ok else "unavailable",
            "actions": "ready" if actions_ok else "unavailable",
        }
