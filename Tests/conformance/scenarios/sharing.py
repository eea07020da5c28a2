"""Scenario `sharing` (1.2.29+, the releases with share_dataset_only_with / get_shared_users):
a team dataset, with the real client for both users.

The runner creates two users with e-mails (owner@example.com, friend@example.com) besides
t1/t2. The owner creates a small dataset with embeddings and shares it with the friend's
e-mail; get_shared_users names the friend; the friend's get_datasets(shared=True) lists it and
get_datasets() (their own) does not; the friend reads its tags and runs a CORESET selection on
it. t2, a user it is not shared with, gets the same 404 for its id as for an unknown id. The
owner revokes with share_dataset_only_with(id, []) and the friend gets that 404 too."""

import os

import numpy as np

import common
from common import (ID, WORKDIR, FolderDataset, L, _model, bit_indices, check, expect_http_error, get_json, make_images,
                    new_client, ok, select, soft, upload, write_embeddings_csv)

OWNER_TOKEN = os.environ["CONFORMANCE_OWNER_TOKEN"]
FRIEND_TOKEN = os.environ["CONFORMANCE_FRIEND_TOKEN"]
OWNER_EMAIL = os.environ["CONFORMANCE_OWNER_EMAIL"]
FRIEND_EMAIL = os.environ["CONFORMANCE_FRIEND_EMAIL"]
STRANGER_TOKEN = os.environ["CONFORMANCE_TOKEN2"]
UNKNOWN_ID = "5f" + "0" * 22

N, D = 12, 4
NAMES = [f"img_{i:02d}.png" for i in range(N)]

for path in (f"/+v1/datasets/{ID}", f"/+v1/datasets/{ID}/tags"):
    expect_http_error("GET", path, 404, "a user the dataset is not (or no longer) shared with, and an unknown id: "
                      "the scenario checks both answer alike")


def refused(call):
    """(status, body with the dataset id masked) of the ApiException `call()` raises."""
    try:
        call()
    except Exception as e:  # noqa: BLE001 - ApiException lives in different modules per release
        status = getattr(e, "status", None)
        if status is None:
            raise
        body = getattr(e, "body", "") or ""
        body = body.decode() if isinstance(body, bytes) else str(body)
        return status, body
    raise AssertionError(f"{call} should have been refused")


def looks_unknown(client, ds_id, who):
    """The dataset and its tags answer `client` exactly like an unknown id does."""
    for what, fn in (("get_dataset_by_id", lambda i: client._datasets_api.get_dataset_by_id(dataset_id=i)),
                     ("get_tags_by_dataset_id", lambda i: client._tags_api.get_tags_by_dataset_id(dataset_id=i))):
        got = refused(lambda: fn(ds_id))
        unknown = refused(lambda: fn(UNKNOWN_ID))
        check(got[0] == 404 and (got[0], got[1].replace(ds_id, "ID")) == (unknown[0], unknown[1].replace(UNKNOWN_ID, "ID")),
              f"{who}: {what} on the dataset answers like an unknown id (404)", (got, unknown))
    if hasattr(client, "dataset_exists"):
        check(client.dataset_exists(ds_id) is False, f"{who}: dataset_exists is False")


def shared_users_are(owner, ds_id, want, label):
    """The stored share (read over REST) and the client's get_shared_users both name `want`."""
    configs = get_json(f"/v1/datasets/{ds_id}/collaboration/access")
    stored = [u for c in configs if c.get("accessType") == "WRITE" for u in c.get("users", [])]
    check(stored == want, f"{label}: GET collaboration/access holds {want}", configs)
    # 1.2.29-1.4.4's SharedAccessConfigData requires `organizations` (the server sends it to
    # them, told by the User-Agent); the strict 1.4.8+ models reject it.
    got = owner.get_shared_users(dataset_id=ds_id)
    check(got == want, f"{label}: get_shared_users returns {want}", got)


def ids(datasets):
    return [d.id for d in datasets]


def scenario():
    common.TOKEN = OWNER_TOKEN  # the harness's own reads (upload on 1.4.8+) as the owner
    root = os.path.join(WORKDIR, "images")
    make_images(root, NAMES, seed=91, size_range=(8, 16))

    owner = new_client(token=OWNER_TOKEN)
    owner.create_dataset("team-dataset")
    ds_id = owner.dataset_id
    upload(owner, FolderDataset(root, NAMES), "metadata")
    rng = np.random.default_rng(92)
    csv_path = os.path.join(WORKDIR, "emb.csv")
    write_embeddings_csv(csv_path, NAMES, rng.normal(size=(N, D)).astype(np.float32), rng.permutation(N))
    owner.upload_embeddings(csv_path, name="default")
    ok(f"owner: dataset with {N} samples and embeddings")

    owner.share_dataset_only_with(dataset_id=ds_id, user_emails=[FRIEND_EMAIL])
    shared_users_are(owner, ds_id, [FRIEND_EMAIL], "share_dataset_only_with the friend")

    friend = new_client(token=FRIEND_TOKEN)
    check(ds_id in ids(friend.get_datasets(shared=True)), "friend: get_datasets(shared=True) lists it")
    check(ds_id not in ids(friend.get_datasets()), "friend: get_datasets() (own datasets) does not")
    check(ds_id not in ids(owner.get_datasets(shared=True)) and ds_id in ids(owner.get_datasets()),
          "owner: it is among their own datasets, not the shared ones")

    friend = new_client(token=FRIEND_TOKEN, dataset_id=ds_id)
    names = sorted(t.name for t in friend._tags_api.get_tags_by_dataset_id(dataset_id=ds_id))
    check(names == ["initial-tag"], "friend: reads the dataset's tags", names)
    tag = select(friend, L.SelectionConfig(n_samples=4, method=L.SamplingMethod.CORESET, name="friend-coreset"))
    check(len(bit_indices(tag.bit_mask_data)) == 4, "friend: selection CORESET 4 on the shared dataset", tag)
    names = sorted(t.name for t in owner._tags_api.get_tags_by_dataset_id(dataset_id=ds_id))
    check(names == ["friend-coreset", "initial-tag"], "owner: sees the friend's tag", names)

    stranger = new_client(token=STRANGER_TOKEN)
    looks_unknown(stranger, ds_id, "t2 (not shared with)")
    check(ds_id not in ids(stranger.get_datasets(shared=True)), "t2: get_datasets(shared=True) does not list it")

    owner.share_dataset_only_with(dataset_id=ds_id, user_emails=[])
    shared_users_are(owner, ds_id, [], "revoke with share_dataset_only_with(id, [])")
    check(ds_id not in ids(friend.get_datasets(shared=True)), "friend: no longer in get_datasets(shared=True)")
    looks_unknown(friend, ds_id, "friend after revoke")
    check(len(owner._tags_api.get_tags_by_dataset_id(dataset_id=ds_id)) == 2, "owner: keeps the dataset and its tags")


if __name__ == "__main__":
    from common import main

    main(scenario)
