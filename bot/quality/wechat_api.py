"""A local stand-in for WeChat's API server: a real HTTP server that records what it got.

It serves the two calls the alert push makes through wechatpy — `GET /cgi-bin/token`
and `POST /cgi-bin/message/custom/send` — so the tests and `make bench-push` run the
whole push (HTTP, JSON, access token, retries) without reaching WeChat. Point
`WECHAT_API_BASE_URL` at `<url>/cgi-bin/`.

`failures[openid]` lists WeChat error codes to answer for that user's next attempts
(-1: busy, retried by the push; 45015: outside the 48 h window, given up at once).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from aiohttp import web

ACCESS_TOKEN = "local-access-token"


@dataclass
class Received:
    openid: str
    content: str
    at: float  # time.monotonic() when it arrived


@dataclass
class LocalWeChatApi:
    app_id: str = "wx-local-app"
    secret: str = "local-secret"
    received: List[Received] = field(default_factory=list)  # delivered messages only
    attempts: List[Tuple[str, float]] = field(default_factory=list)  # every send attempt: (OpenID, when)
    token_calls: int = 0
    failures: Dict[str, List[int]] = field(default_factory=dict)

    async def token(self, request: web.Request) -> web.Response:
        query = request.query
        if query.get("appid") != self.app_id or query.get("secret") != self.secret:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        self.token_calls += 1
        return web.json_response({"access_token": ACCESS_TOKEN, "expires_in": 7200})

    async def custom_send(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") != ACCESS_TOKEN:
            return web.json_response({"errcode": 40014, "errmsg": "invalid access_token"})
        body = json.loads(await request.read())
        openid = body["touser"]
        self.attempts.append((openid, time.monotonic()))
        scripted = self.failures.get(openid)
        if scripted:
            code = scripted.pop(0)
            return web.json_response({"errcode": code, "errmsg": f"scripted failure {code}"})
        if body.get("msgtype") != "text":
            return web.json_response({"errcode": 40008, "errmsg": "invalid message type"})
        self.received.append(Received(openid, body["text"]["content"], time.monotonic()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self.token)
        app.router.add_post("/cgi-bin/message/custom/send", self.custom_send)
        return app

    def mean_rate(self) -> float:
        """Attempts per second from the first to the last."""
        times = sorted(at for _, at in self.attempts)
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0

    def max_in_one_second(self) -> int:
        """The most send attempts within any one second (the rate, as WeChat saw it)."""
        times = sorted(at for _, at in self.attempts)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best


# -- as its own process (make bench-push): WeChat is another machine, not our event loop ----

async def summary(request: web.Request) -> web.Response:
    api: LocalWeChatApi = request.app["api"]
    return web.json_response({"received": [r.openid for r in api.received], "attempts": len(api.attempts),
                              "max_in_one_second": api.max_in_one_second(), "mean_rate": round(api.mean_rate(), 2),
                              "token_calls": api.token_calls})


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.quality.wechat_api", description="A local WeChat API server.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app-id", default=LocalWeChatApi.app_id)
    parser.add_argument("--secret", default=LocalWeChatApi.secret)
    args = parser.parse_args(argv)
    api = LocalWeChatApi(app_id=args.app_id, secret=args.secret)
    app = api.app()
    app["api"] = api
    app.router.add_get("/_summary", summary)  # what it received, for the bench
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
