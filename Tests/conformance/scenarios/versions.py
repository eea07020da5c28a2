"""Scenario `versions` (all versions), against a server started with
`--minimum-client-version 99.0.0`: every ApiWorkflowClient constructor must refuse with
ValueError (later releases: an "Incompatible version" warning); the version endpoints answer X.Y.Z strings without a token."""

import importlib

from common import L, URL, check, http, main, ok, vstr


def scenario():
    r = http("GET", URL + "/v1/versions/pip/minimum")
    check(r.status == 200 and r.json() == "99.0.0", "GET /v1/versions/pip/minimum (no token) -> \"99.0.0\"", r)
    r = http("GET", URL + f"/v1/versions/pip/latest?currentVersion={vstr()}")
    latest = r.json() if r.status == 200 else None
    check(isinstance(latest, str) and len(latest.split(".")) == 3 and all(p.isdigit() for p in latest.split(".")),
          "GET /v1/versions/pip/latest (no token) -> an X.Y.Z string", r)

    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            L.ApiWorkflowClient(token="whatever")
            refused = None
        except ValueError as e:
            refused = e
    if refused is not None:
        check("ncompatible" in str(refused), f"ApiWorkflowClient refuses: {str(refused)[:100]}")
    else:  # later releases only warn
        text = " ".join(str(w.message) for w in caught)
        check("ncompatible" in text, f"ApiWorkflowClient warns: {text[:100]}")

    try:  # renamed _version_checking in 1.4.2x
        checking = importlib.import_module("lightly.api.version_checking")
    except ImportError:
        checking = importlib.import_module("lightly.api._version_checking")
    if hasattr(checking, "do_version_check"):  # 1.1.22+: latest, then minimum, under a 1 s alarm
        checking.do_version_check(vstr())
        ok("do_version_check runs against the server without raising")
    else:
        check(checking.get_latest_version(vstr()) == latest, "get_latest_version reads the server's answer")


if __name__ == "__main__":
    main(scenario)
