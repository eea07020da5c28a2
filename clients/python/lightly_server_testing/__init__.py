"""Run a throwaway lightly-server for tests of code that uses the `lightly` client.

`pip install ./clients/python` registers a pytest plugin (entry point `pytest11`) with two
fixtures, see `lightly_server_testing.plugin`. Outside pytest:

    from lightly_server_testing import LightlyServer
    with LightlyServer.start() as server:
        os.environ.update(server.environment)
        ...                              # use the lightly client
        print(server.requests(limit=10))  # what it called, newest first

Standard library only.
"""

from .server import LightlyServer, LightlyServerError, find_binary

__all__ = ["LightlyServer", "LightlyServerError", "find_binary"]
