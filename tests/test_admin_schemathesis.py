"""schemathesis against the admin API's own description (``/admin/v1/openapi.json``) with an
admin's token: no 5xx, every answer's status, content type and body as described. Valid and
invalid input for every operation (the live tail excepted: a stream that lasts, tested in
test_admin_api)."""

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

from admin_world import ADMIN, AdminWorld, make_admin_world
from conftest import LiveServer

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("ADMIN_SCHEMATHESIS_EXAMPLES", 10))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, server_log: Path) -> Iterator[AdminWorld]:
    with LiveServer(tmp_path_factory.mktemp("admin-schemathesis") / "mobproc.db") as live:
        yield make_admin_world(live)


def test_generated_calls_get_no_5xx_and_answers_match_the_description(world: AdminWorld) -> None:
    schema = schemathesis.openapi.from_url(world.server.url + ADMIN + "/openapi.json")
    headers = world.headers("robot")  # an admin's token that no generated call can take away
    calls: Counter = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/audit/stream":
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                      derandomize=True, database=None)
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:  # noqa: ANN001
                calls[(operation.method, operation.path)] += 1
                case.headers = {**(case.headers or {}), **headers}
                response = case.call(base_url=world.server.url + ADMIN)
                case.validate_response(response, checks=CHECKS)

            run()
    assert len(calls) >= 20 and sum(calls.values()) >= 200, calls
