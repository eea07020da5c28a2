"""Imports the client through the torch stubs and prints its version (runner's setup check)."""
from lightly_harness import import_lightly

lightly = import_lightly()
print("lightly " + ".".join(map(str, lightly.version)) + " imports")
