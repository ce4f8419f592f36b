"""schemathesis against the server's own OpenAPI schema: whatever it sends, no 5xx.

Bounded (``MAX_EXAMPLES`` per operation and mode) and run against the session
server, whose ``--max-tokens-cap`` keeps generated requests cheap. Both valid
(positive) and schema-violating (negative) requests are generated. The cases
are drawn with schemathesis's strategies inside a plain hypothesis test, as its
lazy pytest loader does not run under pytest 9.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from serve_helpers import MODEL, Server

MAX_EXAMPLES = 20


@pytest.fixture(scope="session")
def api_schema(server: Server):
    return schemathesis.openapi.from_url(
        f"{server.base_url}/openapi.json", headers=server.headers(), timeout=60
    )


def _operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def test_schema_covers_the_api(api_schema) -> None:
    paths = {op.path for op in _operations(api_schema)}
    assert {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health"} <= paths


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(api_schema, server: Server, mode: GenerationMode) -> None:
    calls: list[tuple[str, int]] = []
    for operation in _operations(api_schema):
        if mode is GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # nothing to violate in a GET without parameters

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case) -> None:
            if mode is GenerationMode.POSITIVE and isinstance(case.body, dict):
                case.body["model"] = MODEL  # a loaded model, so generation itself is fuzzed
            response = case.call(base_url=server.base_url, headers=server.headers(), timeout=300)
            calls.append((case.operation.path, response.status_code))
            case.validate_response(response, checks=[not_a_server_error])

        run()
    assert calls and all(status < 500 for _, status in calls)
    if mode is GenerationMode.POSITIVE:  # some fuzzed requests really generated
        assert any(s == 200 for p, s in calls if p.endswith("completions"))
    if mode is GenerationMode.NEGATIVE:  # invalid bodies were refused, not served
        posts = [s for p, s in calls if p.endswith("completions")]
        assert posts and any(400 <= s < 500 for s in posts)
