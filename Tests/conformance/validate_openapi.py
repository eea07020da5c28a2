"""Validates docs/openapi.yaml with openapi-spec-validator (issue #3: the contract is checked).

Run from anywhere: `python3 Tests/conformance/validate_openapi.py`. The validator is installed
into a venv under .build/conformance/venvs/openapi (cached, like the client venvs of run.py).
Prints `openapi: 1 passed, 0 failed` and exits 0 when the document is valid OpenAPI 3.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from run import ensure_venv, venv_python  # noqa: E402

CHECK = """
import sys
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
spec, _ = read_from_filename(sys.argv[1])
assert str(spec.get("openapi", "")).startswith("3."), "not an OpenAPI 3 document"
validate(spec)
print(f"valid OpenAPI {spec['openapi']}: {len(spec.get('paths', {}))} paths")
"""


def main() -> int:
    venv = ensure_venv("openapi", os.path.join(REPO, ".build", "conformance", "venvs"), sys.executable,
                       steps=[["openapi-spec-validator>=0.7,<1"]])
    if "--setup-only" in sys.argv:
        return 0
    res = subprocess.run([venv_python(venv), "-c", CHECK, os.path.join(REPO, "docs", "openapi.yaml")],
                         capture_output=True, text=True)
    print(res.stdout + res.stderr, end="")
    ok = res.returncode == 0
    print(f"openapi: {int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
