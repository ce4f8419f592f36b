"""schemathesis against the server's own OpenAPI schema: whatever it sends, no 5xx.

Bounded (``max_examples`` per operation) and run against the session server,
whose ``--max-tokens-cap`` keeps generated requests cheap. Both valid and
schema-violating bodies are generated.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from serve_helpers import Server


@pytest.fixture(scope="session")
def api_schema(server: Server):
    return schemathesis.openapi.from_url(
        f"{server.base_url}/openapi.json", headers=server.headers(), timeout=60
    )


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case, server: Server) -> None:
    case.call_and_validate(
        base_url=server.base_url, headers=server.headers(), checks=[not_a_server_error], timeout=300
    )
