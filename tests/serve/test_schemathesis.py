"""A seeded schemathesis run over ``/openapi.json`` against a real server: at least 500
generated requests (valid and invalid ones), none answered with a 5xx."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import LiveServer, tiny_audio_model, tiny_video_model  # noqa: E402

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

EXAMPLES = {GenerationMode.POSITIVE: 32, GenerationMode.NEGATIVE: 22}  # per operation


def fuzz(url: str) -> Counter:
    """Every operation of the server's OpenAPI document, ``EXAMPLES`` seeded cases each;
    the status codes seen. AssertionError on any 5xx."""
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    seen: Counter = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, count in EXAMPLES.items():

            @settings(max_examples=count, derandomize=True, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                response = case.call(base_url=url, timeout=30)
                seen[response.status_code] += 1
                assert response.status_code < 500, (
                    f"{case.method} {case.formatted_path}: {response.status_code} "
                    f"{response.text[:300]}"
                )

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (an operation without inputs)
                continue
    return seen


@pytest.mark.slow
def test_schemathesis_no_server_error(tmp_path: Path, one_thread) -> None:
    """The server offers only tiny models (named "default"), so generated jobs run quickly;
    a short queue keeps most generated submissions at 429."""
    models = [f"default={tiny_audio_model(tmp_path / 'a')}",
              f"default={tiny_video_model(tmp_path / 'v')}"]  # fmt: skip
    with LiveServer(tmp_path / "results", models, max_queue=3) as server:
        seen = fuzz(server.url)
        assert requests_ok(server.url)
        jobs = requests.get(server.url + "/api/jobs?limit=500", timeout=10).json()["jobs"]
    assert not [j["error"] for j in jobs if (j["error"] or "").startswith("internal error")]
    print(dict(sorted(seen.items())))
    assert sum(seen.values()) >= 500, seen
    assert not [code for code in seen if code >= 500]


def requests_ok(url: str) -> bool:
    return requests.get(url + "/api/health", timeout=10).status_code == 200
