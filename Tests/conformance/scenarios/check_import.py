"""Imports the client (through the torch stubs unless CONFORMANCE_REAL_TORCH=1) and prints its
version (the runner's setup check)."""
import os

from lightly_harness import import_lightly

lightly = import_lightly(stub_torch=os.environ.get("CONFORMANCE_REAL_TORCH") != "1")
print("lightly " + ".".join(map(str, lightly.version)) + " imports")
