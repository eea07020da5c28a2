"""Scenario `tls` (clients that read LIGHTLY_CA_CERTS, 1.2.32+): the server runs with
--tls-cert/--tls-key, a certificate from a CA made for this run (CONFORMANCE_CA_FILE), and
LIGHTLY_SERVER_LOCATION is https://.

- Without the CA the client refuses the server (certificate verification is on).
- LIGHTLY_CA_CERTS=<ca> makes the client's API calls (generated urllib3 client) work.
- Signed-URL uploads go through `requests`, which does not read LIGHTLY_CA_CERTS: they need
  REQUESTS_CA_BUNDLE=<ca> as well; checked both ways, with a several-MB upload read back.
- The http:// URL on the TLS port fails fast with an error, not a hang.

Self-contained on purpose (stdlib + the client): it only needs `import_lightly`.
"""

import io
import json
import os
import ssl
import sys
import time
import traceback
import urllib.parse
import urllib.request

from lightly_harness import import_lightly

L = import_lightly()
URL = os.environ["LIGHTLY_SERVER_LOCATION"]
TOKEN = os.environ["CONFORMANCE_TOKEN"]
CA = os.environ["CONFORMANCE_CA_FILE"]
CTX = ssl.create_default_context(cafile=CA)


def ok(msg):
    print(f"ok: {msg}", flush=True)


def check(cond, msg, detail=None):
    if not cond:
        raise AssertionError(msg + ("" if detail is None else f"\n  detail: {detail}"))
    ok(msg)


def rest(method, path, body=None, raw=None, query=None):
    """A direct API call over https, trusting the test CA (the harness's own view of the server)."""
    q = dict(query or {}, token=TOKEN)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(URL + path + "?" + urllib.parse.urlencode(q), data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=CTX))
    with opener.open(req, timeout=60) as resp:
        payload = resp.read()
        return json.loads(payload) if payload[:1] in (b"{", b"[", b'"') else payload


def fetch(url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=CTX))
    with opener.open(url, timeout=60) as resp:
        return resp.read()


def client_env(**values):
    for k in ("LIGHTLY_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        os.environ.pop(k, None)
    os.environ.update(values)


def raises(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any error will do; the point is that it is not accepted
        return e
    return None


def scenario():
    check(URL.startswith("https://"), f"the server's location is https ({URL})")

    # --- no CA: the client must not accept the server
    client_env()
    e = raises(lambda: L.ApiWorkflowClient(token=TOKEN).get_dataset_by_id("0" * 24))
    check(e is not None and "CERTIFICATE_VERIFY_FAILED" in repr(e) + str(e),
          "without the CA the client refuses the certificate", repr(e)[:300])

    # --- LIGHTLY_CA_CERTS: API calls work
    client_env(LIGHTLY_CA_CERTS=CA)
    # (the dataset is made directly: create_dataset's requests differ between releases)
    dataset_id = rest("POST", "/v1/datasets", body={"name": "tls-dataset"})["id"]
    client = L.ApiWorkflowClient(token=TOKEN, dataset_id=dataset_id)
    name = client.get_dataset_by_id(dataset_id).name
    check(name == "tls-dataset", "LIGHTLY_CA_CERTS: the client's API calls work over https", name)

    # --- signed URLs: requests needs REQUESTS_CA_BUNDLE
    sample = rest("POST", f"/v1/datasets/{dataset_id}/samples",
                  body={"fileName": "big.bin", "metaData": {"sizeInBytes": 1}})
    sample_id = sample["id"]
    write_url = rest("GET", f"/v1/datasets/{dataset_id}/samples/{sample_id}/writeurl", query={"isThumbnail": "false"})
    write_url = write_url if isinstance(write_url, str) else write_url.decode().strip('"')
    check(write_url.startswith("https://"), "signed write URLs are https", write_url[:60])
    payload = os.urandom(6 << 20)
    e = raises(lambda: client.upload_file_with_signed_url(io.BytesIO(payload), write_url))
    check(e is not None and "CERTIFICATE_VERIFY_FAILED" in repr(e) + str(e),
          "LIGHTLY_CA_CERTS alone: the signed-URL PUT (requests) refuses the certificate", repr(e)[:300])
    client_env(LIGHTLY_CA_CERTS=CA, REQUESTS_CA_BUNDLE=CA)
    started = time.monotonic()
    client.upload_file_with_signed_url(io.BytesIO(payload), write_url)
    ok(f"LIGHTLY_CA_CERTS + REQUESTS_CA_BUNDLE: 6 MiB signed PUT over TLS in {time.monotonic() - started:.2f}s")
    read_url = rest("GET", f"/v1/datasets/{dataset_id}/samples/{sample_id}/readurl", query={"type": "full"})
    read_url = read_url if isinstance(read_url, str) else read_url.decode().strip('"')
    check(fetch(read_url) == payload, "the 6 MiB blob reads back byte for byte over TLS")

    # --- plain http:// on the TLS port: a clear failure, quickly
    os.environ["LIGHTLY_SERVER_LOCATION"] = "http://" + URL[len("https://"):]
    started = time.monotonic()
    e = raises(lambda: L.ApiWorkflowClient(token=TOKEN).get_dataset_by_id(dataset_id))
    took = time.monotonic() - started
    check(e is not None and took < 30, f"http:// to the TLS port fails in {took:.1f}s", repr(e)[:300])
    os.environ["LIGHTLY_SERVER_LOCATION"] = URL


if __name__ == "__main__":
    try:
        scenario()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        sys.exit(1)
