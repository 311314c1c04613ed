"""The MOBPROC v1 API under schemathesis, at length: at least 2,000 generated calls against
``mobproc serve`` in a process of its own (generating here, answering there: both cores), a
valid token and the documented headers on nine calls in ten. No 5xx; every answer's status,
content type and body as ``/mobproc/v1/openapi.json`` describes them."""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterator

import pytest

from api_world import World, make_world
from conftest import ServerProcess
from test_api_schemathesis import fuzz, operations

from .conftest import SERVER_ENV, figure

CALLS_AT_LEAST = int(os.environ.get("RELIABILITY_API_CALLS", 2000))
CALLS: Counter = Counter()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("api-fuzz")
    with ServerProcess(workdir, env={**SERVER_ENV, "MOBPROC_ACCESS_LOG": "true"}) as live:
        yield make_world(live, live.url, live.services, workdir)
    figure("bad input", "schemathesis calls, /mobproc/v1", sum(CALLS.values()))


def test_two_thousand_generated_calls_get_no_5xx_and_match_the_description(world: World) -> None:
    found = operations(world.api)
    examples = math.ceil(CALLS_AT_LEAST * 1.1 / len(found))  # hypothesis may stop a strategy early
    for path, method, mode in found:
        fuzz(world, path, method, mode, examples, CALLS)
    assert sum(CALLS.values()) >= CALLS_AT_LEAST, CALLS
