"""A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl
command line, for scenarios that run the server with TLS."""

import os
import shutil
import subprocess


def available() -> bool:
    return shutil.which("openssl") is not None


def make(directory: str) -> dict:
    """Writes ca.pem, server.pem (leaf + CA chain) and server.key into `directory`.
    Returns their paths: {"ca": ..., "cert": ..., "key": ...}."""
    os.makedirs(directory, exist_ok=True)

    def run(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key")
    run("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=conformance test CA", "-days", "2", "-out", "ca.pem")
    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key")
    run("req", "-new", "-key", "server.key", "-subj", "/CN=127.0.0.1", "-out", "server.csr")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "server.ext", "-out", "leaf.pem")
    with open(os.path.join(directory, "server.pem"), "w") as out:
        for name in ("leaf.pem", "ca.pem"):
            with open(os.path.join(directory, name)) as f:
                out.write(f.read())
    return {k: os.path.join(directory, v) for k, v in (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"))}
