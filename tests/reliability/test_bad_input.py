"""Issue: bad input, ≥ 10,000 cases in all — schemathesis from /openapi.json, and the hypothesis
fuzz of the token endpoint (tests/test_malformed_requests.py) with more examples: no 5xx, every answer JSON, every
answer about tokens no-store."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

import test_malformed_requests
from conftest import EVERY_GRANT, ServerProcess, remember
from mobproc.server import openapi

from .conftest import SERVER_ENV, figure

SCHEMATHESIS_EXAMPLES = int(os.environ.get("RELIABILITY_SCHEMATHESIS_EXAMPLES", 1000))
HYPOTHESIS_EXAMPLES = int(os.environ.get("RELIABILITY_HYPOTHESIS_EXAMPLES", 4000))
# Endpoints about credentials and tokens: their every answer, errors included, is no-store.
TOKEN_PATHS = ("/as/token.oauth2", "/as/introspect.oauth2", "/as/revoke_token.oauth2")
CASES: Counter = Counter()


def fuzz_target(workdir: Path) -> Iterator[ServerProcess]:
    """``mobproc serve`` in a process of its own, so that generating the input (here) and
    answering it (there) use both cores; a registered client and account for the cases that
    should get past authentication."""
    # With its access log: the masking of odd query strings is part of what is fuzzed.
    with ServerProcess(workdir, env={**SERVER_ENV, "MOBPROC_ACCESS_LOG": "true"}) as live, live.client() as http:
        live.http = http
        live.valid_client = live.add_client(grants=EVERY_GRANT)
        live.valid_user = live.add_user()
        yield live


@pytest.fixture(scope="module")
def openapi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from fuzz_target(tmp_path_factory.mktemp("schemathesis"))
    for path, n in sorted(CASES.items()):
        figure("bad input", f"schemathesis cases, {path}", n)
    figure("bad input", "schemathesis cases in all", sum(CASES.values()))


@pytest.fixture(scope="module")
def openapi_schema(openapi_server: ServerProcess):  # noqa: ANN201
    return schemathesis.openapi.from_url(openapi_server.url + "/openapi.json")


def with_real_credentials(case, server: ServerProcess) -> None:  # noqa: ANN001
    """Every other case carries the registered client's real credentials, so that generated
    input also reaches the grants, past client authentication."""
    if isinstance(case.body, dict) and (CASES[case.path] % 2) and "client_id" in case.body:
        case.body["client_id"], case.body["client_secret"] = server.valid_client
        if "username" in case.body:
            case.body["username"], case.body["password"] = server.valid_user


PAGE_PATHS = ("/as/authorization.oauth2", "/as/logout", "/as/assets/mobproc.css")


def check_answer(case, response) -> None:  # noqa: ANN001
    """The issue's three properties, on schemathesis' response (its headers are lists)."""

    def header(name: str) -> str:
        return ",".join(response.headers.get(name, []))

    detail = f"{case.method} {case.path} {case.body!r} -> {response.status_code} {response.text[:200]}"
    assert response.status_code < 500, detail
    if case.path == "/metrics" and response.status_code == 200:
        assert header("content-type").startswith("text/plain"), detail  # Prometheus' format
    elif case.path in PAGE_PATHS:
        # The sign-in pages (issue 20) answer browsers: a page, a redirect, or the stylesheet.
        assert response.status_code in (302, 303) or header("content-type").startswith(("text/html", "text/css")), \
            detail
        assert "Traceback" not in response.text, detail
    else:
        assert header("content-type") == "application/json", detail
        body = response.json()
        if isinstance(body, dict):
            remember(*(body.get(k) for k in ("access_token", "refresh_token") if isinstance(body.get(k), str)))
    if case.path in TOKEN_PATHS:
        assert header("cache-control") == "no-store", detail


# Every operation the description lists, valid input (positive) and invalid (negative); the
# documents answer GET without parameters, so they have no invalid input to generate.
OPERATIONS = [
    pytest.param(path, method, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, item in openapi.DOCUMENT["paths"].items()
    for method in item
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if method == "post" or mode is GenerationMode.POSITIVE
]


@pytest.mark.parametrize(("path", "method", "mode"), OPERATIONS)
def test_no_generated_request_gets_a_5xx_or_a_non_json_answer(
    openapi_server: ServerProcess, openapi_schema, path: str, method: str, mode: GenerationMode  # noqa: ANN001
) -> None:
    operation = openapi_schema[path][method]
    examples = SCHEMATHESIS_EXAMPLES if method == "post" else 20

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:  # noqa: ANN001
        with_real_credentials(case, openapi_server)
        CASES[path] += 1
        check_answer(case, case.call(base_url=openapi_server.url))

    run()


# The token endpoint fuzz of tests/test_malformed_requests.py, with more examples.
_hypothesis_cases = Counter()


@pytest.fixture(scope="module")
def counted_fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    for fuzz_server in fuzz_target(tmp_path_factory.mktemp("fuzz")):
        fuzz_server.http.event_hooks["response"].append(lambda response: _hypothesis_cases.update(["cases"]))
        yield fuzz_server
    figure("bad input", "hypothesis cases, /as/token.oauth2", _hypothesis_cases["cases"])


def test_hypothesis_fuzz_of_the_token_endpoint(counted_fuzz_server: ServerProcess) -> None:
    # The same test body and strategy, under a larger example budget.
    inner = test_malformed_requests.test_generated_malformed_token_requests_never_get_a_5xx.hypothesis.inner_test
    run = settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                   derandomize=True, database=None)(given(data=st.data())(inner))
    run(fuzz_server=counted_fuzz_server)
