"""Pictures residents send to the Official Account: fetched with a size and time bound.

An image message carries a `PicUrl` (WeChat's picture CDN) and a `MediaId`. The picture
is fetched from `PicUrl` when its host is one of `WECHAT_PIC_HOSTS` (anything else could
point us at a host inside the network), streamed and cut off past `WECHAT_MEDIA_MAX_BYTES`;
otherwise — or when that fails — by `MediaId` through wechatpy's media API
(`WeChatClient.media.download`) at `WECHAT_API_BASE_URL`, which needs `WECHAT_APP_SECRET` for
its access token. Both together stay within `WECHAT_MEDIA_TIMEOUT_S`, so the read and the
chat turn still fit WeChat's 5 s. Tests point both at a local HTTP server.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Optional, Tuple
from urllib.parse import urlsplit

import aiohttp
from wechatpy import WeChatClient

from bot.settings import Settings

log = logging.getLogger(__name__)
CHUNK = 64 * 1024


class MediaFetchError(Exception):
    """The picture could not be fetched (too big, too slow, refused, not there)."""


class _MediaClient(WeChatClient):
    """wechatpy's client with its API base (and token URL) taken from the settings."""

    def __init__(self, api_base: str, appid: str, secret: str, timeout: float) -> None:
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base.rstrip("/") + "/"  # WECHAT_API_BASE_URL: …/cgi-bin/

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


@dataclass
class MediaFetcher:
    pic_hosts: Tuple[str, ...]
    max_bytes: int
    timeout_s: float
    client: Optional[_MediaClient] = None  # None: no app secret, no MediaId download

    @classmethod
    def from_settings(cls, settings: Settings) -> "MediaFetcher":
        client = None
        if settings.wechat_app_secret.strip() and settings.wechat_app_id.strip():
            client = _MediaClient(settings.wechat_api_base_url, settings.wechat_app_id.strip(),
                                  settings.wechat_app_secret.strip(), settings.wechat_media_timeout_s)
        return cls(tuple(settings.wechat_pic_host_list), settings.wechat_media_max_bytes,
                   settings.wechat_media_timeout_s, client)

    def _pic_url_allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and parts.netloc.lower() in self.pic_hosts

    async def fetch(self, pic_url: str, media_id: str) -> bytes:
        """The picture's bytes: by PicUrl, else by MediaId; MediaFetchError when neither works."""
        try:
            return await asyncio.wait_for(self._fetch(pic_url.strip(), media_id.strip()), timeout=self.timeout_s)
        except asyncio.TimeoutError:
            raise MediaFetchError(f"no picture within {self.timeout_s} s") from None

    async def _fetch(self, pic_url: str, media_id: str) -> bytes:
        failure = "no PicUrl on an allowed host and no MediaId download configured"
        if pic_url and self._pic_url_allowed(pic_url):
            try:
                return await self._download(pic_url)
            except MediaFetchError as err:
                failure = str(err)
                log.warning("WeChat picture by PicUrl failed (%s); trying MediaId", err)
        if media_id and self.client is not None:
            return await asyncio.to_thread(self._media_download, media_id)
        raise MediaFetchError(failure)

    async def _download(self, url: str) -> bytes:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(url, allow_redirects=False) as response:
                    if response.status != 200:
                        raise MediaFetchError(f"PicUrl answered HTTP {response.status}")
                    if (response.content_length or 0) > self.max_bytes:
                        raise MediaFetchError(f"picture of {response.content_length} bytes is too big")
                    data = bytearray()
                    async for chunk in response.content.iter_chunked(CHUNK):
                        data += chunk
                        if len(data) > self.max_bytes:  # a server that lies about, or omits, the length
                            raise MediaFetchError(f"picture over {self.max_bytes} bytes")
                    return bytes(data)
        except aiohttp.ClientError as err:
            raise MediaFetchError(f"PicUrl: {err.__class__.__name__}") from err

    def _media_download(self, media_id: str) -> bytes:
        """wechatpy's media API (a blocking requests call: run in a thread). WeChat caps a
        temporary image at 10 MB; anything over our own bound is refused."""
        assert self.client is not None
        try:
            response = self.client.media.download(media_id)
        except Exception as err:  # wechatpy raises its client exception, requests its own
            raise MediaFetchError(f"media API: {err.__class__.__name__}") from err
        if isinstance(response, dict):  # a JSON error body (errcode), decoded by wechatpy
            raise MediaFetchError(f"media API error {response.get('errcode')}")
        content = getattr(response, "content", b"") or b""
        if len(content) > self.max_bytes:
            raise MediaFetchError(f"picture over {self.max_bytes} bytes")
        if not content:
            raise MediaFetchError("media API sent no picture")
        return bytes(content)
