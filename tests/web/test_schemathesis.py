"""Schemathesis against the in-process app (no server): generated requests for every operation under
/api and /fhir, every response checked against the OpenAPI document (status documented, body matching
its schema, content type, Allow headers, negative data rejected, valid data accepted). Bounded for CI:
a few examples per operation, drawn the same way every run (derandomized).

The app is built at import (not from a fixture: schemathesis's fixture loader does not run on pytest 9.2)
over the made-up fixture store."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from hcpcs.interfaces.web.app import create_app  # noqa: E402
from hcpcs.interfaces.web.security import Settings  # noqa: E402
from hcpcs.store.session import Hcpcs  # noqa: E402
from tests.conftest import load_store  # noqa: E402
from tests.unit import mini_cms  # noqa: E402

_ROOT = Path(tempfile.mkdtemp(prefix="hcpcs-schemathesis-"))
APP = create_app(Hcpcs(load_store(_ROOT / "home", mini_cms.build(_ROOT / "cms"))),
                 settings=Settings(check_processes=0))

CONFIG = schemathesis.Config.from_dict({
    "generation": {"max-examples": 8, "mode": "all"},
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    "checks": {
        # A well-formed code that is in no loaded release is a documented 404, not a rejected valid request.
        "positive_data_acceptance": {"expected-statuses": [200, 404]},
    },
    "operations": [{
        # The FHIR operations take one of several parameter combinations (system and code, or coding, ...),
        # which an OpenAPI parameter list cannot say: a request without any is a documented 400.
        "include-path-regex": "^/fhir/CodeSystem/",
        "checks": {"positive_data_acceptance": {"expected-statuses": [200, 400, 404]}},
    }, {
        # CSV, JSON Lines and X12 bodies are text to the schema (their grammar is the reader's), and the
        # format parameter may name another format than the body: an unreadable body is a documented 400.
        # And in a batch (a JSON array, JSON Lines, CSV, X12) a record that cannot be read is answered in the
        # 200 as {id, error, findings: []}: one bad record never costs the good ones, so a record that
        # violates the claim schema is accepted by contract. A single claim whose date matches the date
        # pattern but is no calendar day (2024-02-30) is a documented 422 naming the field.
        "include-path-regex": "^/api/check$",
        "checks": {"positive_data_acceptance": {"expected-statuses": [200, 400, 422]},
                   "negative_data_rejection": {"enabled": False}},
    }, {
        # The place parameters depend on each other and on the loaded GPCI file (a state with several
        # localities needs a county; a county must be in the state), which a parameter list cannot say:
        # a documented 422 names the parameter.
        "include-path-regex": "^/api/fee/",
        "checks": {"positive_data_acceptance": {"expected-statuses": [200, 404, 422]}},
    }],
})

schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG).include(path_regex=r"^/(api|fhir)/")


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi(case) -> None:  # noqa: ANN001 - a schemathesis Case
    case.call_and_validate()
