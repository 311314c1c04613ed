"""schemathesis against the MOBPROC v1 API's own description (``/mobproc/v1/openapi.json``), with
a valid token and the documented headers on most calls: no 5xx, every answer's status, content
type and body as described. A short run here; tests/reliability/test_api_fuzz.py runs 2,000+."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.modes import GenerationMode

from api_world import API, World, make_world
from conftest import LiveServer

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("API_SCHEMATHESIS_EXAMPLES", 8))


def operations(url: str) -> list[tuple[str, str, GenerationMode]]:
    """Every operation, with valid input, and the POSTs with invalid input too."""
    document = schemathesis.openapi.from_url(url + API + "/openapi.json")
    found = []
    for result in document.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.POSITIVE or operation.method.upper() == "POST":
                found.append((operation.path, operation.method, mode))
    return found


def fuzz(world: World, path: str, method: str, mode: GenerationMode, examples: int, calls: Counter) -> None:
    """``examples`` generated calls of one operation; nine in ten carry the world's valid token
    and headers over whatever was generated for them, so that input reaches past the door."""
    schema = schemathesis.openapi.from_url(world.api + API + "/openapi.json")
    operation = schema[path][method]
    headers = world.headers()

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:  # noqa: ANN001
        calls[path] += 1
        if calls[path] % 10:
            case.headers = {**(case.headers or {}), **headers}
        response = case.call(base_url=world.api + API)
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("schemathesis")
    with LiveServer(workdir / "mobproc.db") as live:
        yield make_world(live, live.url, live.services, workdir)


CALLS: Counter = Counter()


def test_generated_calls_get_no_5xx_and_answers_match_the_description(world: World) -> None:
    for path, method, mode in operations(world.api):
        fuzz(world, path, method, mode, EXAMPLES, CALLS)
    assert len(CALLS) >= 20 and sum(CALLS.values()) >= 150, CALLS
