"""The OpenAPI document at /api/openapi.json, checked against the gateway that serves it.

- Plain checks: the document is valid OpenAPI 3.0, lists every route the gateway serves
  under /api/ and /healthz (and nothing it does not serve), and carries the contracts
  others rely on (bearer security, the stats shape).
- Schemathesis: for every documented operation the gateway serves, generated requests
  (valid and invalid) never get a 5xx, and every response's status code, content type,
  headers and body conform to the document.  The gateway runs for real (in a background
  thread) against the fake Rasa, with the mini KB and a temporary SQLite case store.
"""
from __future__ import annotations

import json
import re
import urllib.request
from typing import Dict, Set, Tuple

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis import DataGenerationMethod
from schemathesis.checks import ALL_CHECKS
from schemathesis.specs.openapi.checks import negative_data_rejection

from bot.gateway.app import GatewayConfig, create_app
from bot.gateway.openapi import OPENAPI_PATH, openapi_document
from bot.kb import load_kb
from bot.runtime.context import get_extractor as get_pipeline
from tests.conftest import FIXTURES
from tests.fake_rasa import fake_rasa_app
from tests.live_gateway import LiveGateway

TOKEN = "schemathesis-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
# Documented before its module is built (issue 7): the route checks let it be missing
# until then, and schemathesis tests it as soon as the gateway serves it.
PLANNED = {("GET", "/api/v1/stats")}
# Hypothesis notes that a generated 5,000-character body has a long repr; that is expected.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


def mini_gateway(rasa_url: str) -> web.Application:
    config = GatewayConfig(rasa_url, rasa_url, api_tokens=frozenset({TOKEN}))
    return create_app(config, kb=load_kb(FIXTURES / "kb_min"))


def served_routes(app: web.Application) -> Set[Tuple[str, str]]:
    """(METHOD, path template) of every route under /api/, /s/ (shared verdicts) and /healthz."""
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method != "HEAD" and (path.startswith(("/api/", "/s/")) or path == "/healthz"):
            routes.add((route.method, path))
    return routes


def documented_routes(doc: Dict) -> Set[Tuple[str, str]]:
    return {(m.upper(), path) for path, item in doc["paths"].items() for m in item if m in HTTP_METHODS}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        folder = tmp_path_factory.mktemp("openapi")
        env.setenv("CASES_URL", f"sqlite:///{folder}/cases.db")
        env.setenv("OPERATORS_FILE", str(folder / "operators.yml"))
        # Thousands of generated requests from one address: a 429 would hide what is checked here.
        for limit in ("CHAT_SENDER", "CHAT_ADDRESS", "ASSESS_ADDRESS"):
            env.setenv(f"RATE_LIMIT_{limit}", "100000/minute")
        get_pipeline()  # load the indicator pipeline once, before any request is timed
        running = LiveGateway(mini_gateway, rasa_app=fake_rasa_app(), timeout=60).start()
        yield running
        running.stop()


@pytest.fixture(scope="module")
def served_document(gateway) -> Dict:
    with urllib.request.urlopen(gateway.url + OPENAPI_PATH, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        return json.loads(response.read())


def _nothing_to_get_wrong(operation: Dict) -> bool:
    """No body and only unconstrained string parameters: no request can break the schema (a
    path segment is always a string), and schemathesis ≥ 3.27 refuses to try."""
    if "requestBody" in operation:
        return False
    return all(p.get("in") == "path" and p.get("schema") == {"type": "string"} for p in operation.get("parameters", []))


def _testable_document(gateway, served_document, negative: bool) -> Dict:
    """The served document, minus operations whose module is not built yet (PLANNED) and,
    for negative tests, operations with nothing to get wrong."""
    doc = json.loads(json.dumps(served_document))
    unbuilt = PLANNED - served_routes(gateway.app)
    for path, item in list(doc["paths"].items()):
        for method in [m for m in item if m in HTTP_METHODS]:
            op = item[method]
            if (method.upper(), path) in unbuilt or (negative and _nothing_to_get_wrong(op)):
                del item[method]
        if not set(item) & HTTP_METHODS:
            del doc["paths"][path]
    return doc


@pytest.fixture(scope="module")
def valid_requests(gateway, served_document):
    return schemathesis.from_dict(_testable_document(gateway, served_document, negative=False),
                                  base_url=gateway.url, validate_schema=True,
                                  data_generation_methods=[DataGenerationMethod.positive])


@pytest.fixture(scope="module")
def invalid_requests(gateway, served_document):
    return schemathesis.from_dict(_testable_document(gateway, served_document, negative=True),
                                  base_url=gateway.url, validate_schema=True,
                                  data_generation_methods=[DataGenerationMethod.negative])


# -- plain checks ----------------------------------------------------------------------------


def test_document_is_valid_openapi_3_0():
    doc = openapi_document()
    assert doc["openapi"] == "3.0.3"
    schemathesis.from_dict(doc, validate_schema=True)  # raises on an invalid document


def test_every_served_api_route_is_documented(gateway, served_document):
    served = served_routes(gateway.app)
    assert ("POST", "/api/v1/cases") in served  # the comparison sees the real router
    missing = served - documented_routes(served_document)
    assert not missing, f"served but not in openapi.yml: {sorted(missing)}"


def test_every_documented_route_is_served(gateway, served_document):
    unserved = documented_routes(served_document) - served_routes(gateway.app) - PLANNED
    assert not unserved, f"in openapi.yml but not served: {sorted(unserved)}"


def test_design_contracts_are_in_the_document(served_document):
    paths = served_document["paths"]
    assert set(paths) >= {"/healthz", "/api/v1/assess", "/api/v1/chat", "/api/v1/cases",
                          "/api/v1/cases/{id}", "/api/v1/stats", "/api/openapi.json"}
    assert served_document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer",
        "description": served_document["components"]["securitySchemes"]["bearerAuth"]["description"]}
    protected = [("post", "/api/v1/cases"), ("get", "/api/v1/cases"), ("get", "/api/v1/cases/{id}"),
                 ("get", "/api/v1/stats")]
    for method, path in protected:
        operation = paths[path][method]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert "401" in operation["responses"], path
    for path in ("/api/v1/assess", "/api/v1/chat"):
        assert "security" not in paths[path]["post"]
        assert {"400", "413", "415", "503"} <= set(paths[path]["post"]["responses"])
    assert paths["/api/v1/cases/{id}"]["get"]["responses"]["404"]
    chat = served_document["components"]["schemas"]["ChatRequest"]
    assert chat["required"] == ["sender", "message"] and chat["properties"]["channel"]["enum"] == ["widget", "wechat", "api"]
    stats = served_document["components"]["schemas"]["Stats"]
    assert set(stats["required"]) == {"by_type", "by_risk", "by_channel", "by_week", "total", "since", "until"}
    assert [p["$ref"].rsplit("/", 1)[1] for p in paths["/api/v1/stats"]["get"]["parameters"]] == ["Since", "Until"]


def test_scam_types_come_from_the_running_knowledge_base(served_document):
    enum = served_document["components"]["schemas"]["ScamType"]["enum"]
    assert sorted(enum) == sorted(load_kb(FIXTURES / "kb_min").scam_types)
    assert len(openapi_document()["components"]["schemas"]["ScamType"]["enum"]) == 22  # the DESIGN taxonomy


def test_documented_examples_are_accepted(gateway):
    """The request examples in the document work as written."""
    for path, status in (("/api/v1/assess", 200), ("/api/v1/chat", 200), ("/api/v1/cases", 201)):
        example = openapi_document()["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]
        request = urllib.request.Request(gateway.url + path, data=json.dumps(example).encode(), method="POST",
                                         headers={**AUTH, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == status, path


# -- schemathesis --------------------------------------------------------------------------------

_TOKEN_CHARS = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


def _valid_header(name: str, value: str) -> bool:
    return bool(_TOKEN_CHARS.match(name)) and all(ch == "\t" or 0x20 <= ord(ch) < 0x7F for ch in value)


# schemathesis ≥ 3.27's negative_data_rejection also counts an ignored unknown query parameter
# (`?=false`) or an omitted optional body as "accepted negative data"; the gateway ignores
# both on purpose, as HTTP APIs do. Every other check runs.
CHECKS = tuple(c for c in ALL_CHECKS if c is not negative_data_rejection)


def call_and_check(case) -> None:
    """No 5xx; status, content type, headers and body as documented (token sent)."""
    # Negative cases add random headers; ones that break HTTP itself (control characters)
    # are refused by aiohttp's parser with a plain-text 400 before the app sees them.
    case.headers = {k: v for k, v in (case.headers or {}).items() if _valid_header(k, v)}
    case.call_and_validate(headers=AUTH, checks=CHECKS, timeout=30)


valid_schema = schemathesis.from_pytest_fixture("valid_requests")
invalid_schema = schemathesis.from_pytest_fixture("invalid_requests")


@valid_schema.parametrize()
@SETTINGS
def test_valid_requests_get_documented_answers(case):
    call_and_check(case)


@invalid_schema.parametrize()
@SETTINGS
def test_invalid_requests_get_documented_errors(case):
    call_and_check(case)
