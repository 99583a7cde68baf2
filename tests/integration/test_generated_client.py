"""A client generated from the checked-in spec by openapi-python-client (docs/health-check-api.md §6)
imports and runs a single check and a batch against the real server over a socket.

Integrators generate clients instead of writing HTTP calls; a spec that generates a client that
fails on import (as it did with several request content types on one operation, the generator's
bug #1451) or names its functions by path is a spec they can't use.
"""
from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_health_check_api import P01, Integrator
from tests.integration.test_oauth_clients import AuthlibIntegrator
from tests.support.live import serve

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def oqs_client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert generator, "openapi-python-client is a test dependency (pyproject.toml)"
    where = tmp_path_factory.mktemp("generated")
    done = subprocess.run([generator, "generate", "--path", str(ROOT / "openapi" / "openapi.json"), "--meta", "none",
                           "--output-path", str(where / "oqs_client")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module("oqs_client")
    finally:
        sys.path.remove(str(where))


@pytest.fixture
def app(app):  # type: ignore[no-untyped-def]
    yield app
    app.extensions["mobile_api"].jobs.stop()


def test_the_generated_client_runs_a_check_and_a_batch(h, app, oqs_client):  # type: ignore[no-untyped-def]
    from oqs_client.api.batch_jobs import batch_jobs_create, batch_jobs_results, batch_jobs_show
    from oqs_client.api.qualification_checks import qualification_checks_check
    from oqs_client.client import AuthenticatedClient
    from oqs_client.models import BatchCreate, BatchJob, Examinee

    integrator = Integrator(h)
    with serve(app) as (base, _):
        client = AuthenticatedClient(base_url=base, token=integrator.token())
        one = qualification_checks_check.sync(client=client, body=Examinee.from_dict({"reference": "R-1", **P01}),
                                              idempotency_key="generated-1")
        assert one.to_dict()["eligibility_status"] == 1 and one.to_dict()["qualification"]["name"] == "佐藤 健一"

        examinees = [{"reference": f"R-{i}", **P01} for i in range(3)]
        job = batch_jobs_create.sync(client=client, body=BatchCreate.from_dict({"examinees": examinees}),
                                     idempotency_key="generated-batch-1")
        assert isinstance(job, BatchJob), job
        deadline = time.monotonic() + 120  # returns when done; the bound is for a loaded machine
        while job.state not in ("done", "cancelled") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = batch_jobs_show.sync(job.id, client=client)
        assert job.state == "done" and job.done == 3 and job.failed == 0
        page = batch_jobs_results.sync(job.id, client=client)
        assert [row["reference"] for row in page.to_dict()["results"]] == ["R-0", "R-1", "R-2"]


def test_an_authlib_token_runs_a_batch_with_the_generated_client(h, app, oqs_client):  # type: ignore[no-untyped-def]
    """Issue 20's integrator end to end: the token from Authlib's PrivateKeyJWT (docs/health-check-api.md §2),
    the batch through the generated client (§6)."""
    from oqs_client.api.batch_jobs import batch_jobs_create, batch_jobs_show
    from oqs_client.client import AuthenticatedClient
    from oqs_client.models import BatchCreate, BatchJob

    integrator = AuthlibIntegrator(h)
    with serve(app) as (base, _):
        token = integrator.session(base).token["access_token"]
        client = AuthenticatedClient(base_url=base, token=token)
        job = batch_jobs_create.sync(client=client, idempotency_key="authlib-batch-1", body=BatchCreate.from_dict(
            {"examinees": [{"reference": f"R-{i}", **P01} for i in range(2)]}))
        assert isinstance(job, BatchJob), job
        deadline = time.monotonic() + 120  # returns when done; the bound is for a loaded machine
        while job.state not in ("done", "cancelled") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = batch_jobs_show.sync(job.id, client=client)
        assert job.state == "done" and job.done == 2 and job.failed == 0
