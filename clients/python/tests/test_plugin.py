"""The pytest plugin against a real lightly-server, driven by the real `lightly` client."""

from __future__ import annotations

import os
import time

import pytest

from conftest import L, rest, select, write_embeddings

SIGNED_ROUTE = "/signed/:kind/:datasetId/:objectId/:variant"


def test_session_fixture_points_the_client_at_the_server(lightly_server):
    assert os.environ["LIGHTLY_SERVER_LOCATION"] == lightly_server.url
    assert os.environ["LIGHTLY_TOKEN"] == lightly_server.token
    assert lightly_server.url.startswith("http://127.0.0.1:")
    assert lightly_server.process.poll() is None
    c = L.ApiWorkflowClient()
    c.create_dataset("session-set")
    assert "session-set" in [d.name for d in c.get_datasets()]


def test_reset_between_tests_first(lightly_server_fresh):
    c = L.ApiWorkflowClient()
    c.create_dataset("left-behind")
    assert [d.name for d in c.get_datasets()] == ["left-behind"]


def test_reset_between_tests_second(lightly_server_fresh):
    # Runs after the test above (and the session test): the fixture emptied the server.
    assert L.ApiWorkflowClient().get_datasets() == []
    assert lightly_server_fresh.faults() == []


def test_requests_lists_what_the_client_called(client, lightly_server_fresh):
    client.get_all_tags()
    entries = lightly_server_fresh.requests(limit=5)
    assert len(entries) == 5
    newest = entries[0]
    assert newest["method"] == "GET" and newest["route"] == "/v1/datasets/:datasetId/tags"
    assert newest["status"] == 200
    assert newest["path"].startswith(f"/v1/datasets/{client.dataset_id}/tags")
    assert "token=REDACTED" in newest["path"] and lightly_server_fresh.token not in newest["path"]
    assert newest["bytes"] > 0 and newest["milliseconds"] >= 0 and newest["requestId"]
    assert [e["time"] for e in entries] == sorted((e["time"] for e in entries), reverse=True)
    # The client's dataset creation is further back; the admin calls are not journalled.
    everything = lightly_server_fresh.requests(limit=1000)
    assert any(e["method"] == "POST" and e["route"] == "/v1/datasets" and e["status"] == 201 for e in everything)
    assert not any(e["path"].startswith("/_admin") for e in everything)


def test_upload_with_an_injected_500(client, lightly_server_fresh, tmp_path):
    csv = write_embeddings(tmp_path / "embeddings.csv", client.test_file_names)
    rules = lightly_server_fresh.faults({"method": "PUT", "path": "/signed/**", "status": 500, "times": 1})
    assert [(r["path"], r["status"], r["times"]) for r in rules] == [("/signed/**", 500, 1)]
    # Neither release retries a failed signed PUT (1.2.14 has no retry there; 1.5.26 wraps the
    # PUT in a retry that only recognises its generated API's errors): the upload fails.
    with pytest.raises(Exception, match="500"):
        client.upload_embeddings(csv, name="first-try")
    puts = [e for e in lightly_server_fresh.requests(limit=1000) if e["route"] == SIGNED_ROUTE]
    assert [(e["method"], e["status"]) for e in puts] == [("PUT", 500)]
    # The rule is used up and gone; the next upload goes through.
    assert lightly_server_fresh.faults() == []
    client.upload_embeddings(csv, name="second-try")
    stored = rest(lightly_server_fresh, "GET", f"/v1/datasets/{client.dataset_id}/embeddings")
    assert [e["name"] for e in stored if e["isProcessed"]] == ["second-try"]
    puts = [e for e in lightly_server_fresh.requests(limit=1000) if e["route"] == SIGNED_ROUTE]
    assert [e["status"] for e in puts] == [200, 500]  # newest first


def test_polling_a_delayed_sampling_job(client, lightly_server_fresh, tmp_path):
    client.upload_embeddings(write_embeddings(tmp_path / "e.csv", client.test_file_names), name="default")
    lightly_server_fresh.faults({"job": "SAMPLING", "delayMs": 2500})
    started = time.monotonic()
    tag = select(client, "RANDOM", 4, "random-4")
    assert time.monotonic() - started >= 2.4
    assert tag.name == "random-4"
    assert bin(int(tag.bit_mask_data, 16)).count("1") == 4
    polls = [e for e in lightly_server_fresh.requests(limit=1000) if e["route"] == "/v1/jobs/:jobId"]
    assert len(polls) >= 2, "the client saw the job running at least once before it finished"
    assert all(e["status"] == 200 for e in polls)


def test_a_sampling_job_made_to_fail(client, lightly_server_fresh, tmp_path):
    client.upload_embeddings(write_embeddings(tmp_path / "e.csv", client.test_file_names), name="default")
    lightly_server_fresh.faults({"job": "SAMPLING", "fail": "injected by the test"})
    with pytest.raises(RuntimeError, match="injected by the test"):
        select(client, "RANDOM", 4, "never")
    assert "never" not in [t.name for t in client.get_all_tags()]


# Three samples, a 2-d embedding and the initial tag, owned by the server's `default` user (the
# one whose token the fixture hands out). Format: docs/admin.md.
SEED = {
    "datasets": [{
        "owner": "default",
        "name": "seeded",
        "samples": [{"fileName": "a.png"}, {"fileName": "b.png"}, {"fileName": "c.png"}],
        "embeddings": [{"name": "default", "rows": [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]}],
        "tags": [{"name": "initial-tag", "fileNames": ["a.png", "b.png", "c.png"]}],
    }],
}


def test_seed_then_snapshot_round_trips(lightly_server_fresh):
    server = lightly_server_fresh
    server.seed(SEED)
    c = L.ApiWorkflowClient()
    c.set_dataset_id_by_name("seeded")
    assert [t.name for t in c.get_all_tags()] == ["initial-tag"]
    assert sorted(c.get_filenames()) == ["a.png", "b.png", "c.png"]
    # The seeded embedding is usable at once: a selection runs on it.
    tag = select(c, "CORESET", 2, "coreset-2")
    assert bin(int(tag.bit_mask_data, 16)).count("1") == 2

    snap = server.snapshot()
    assert [d["name"] for d in snap["datasets"]] == ["seeded"]
    assert [t["name"] for t in snap["datasets"][0]["tags"]] == ["initial-tag", "coreset-2"]
    # Everything, users and tokens too, goes; the snapshot brings it all back (the token included).
    server.reset(users=True)
    server.seed(snap)
    assert server.snapshot() == snap
    assert [d.name for d in L.ApiWorkflowClient().get_datasets()] == ["seeded"]
