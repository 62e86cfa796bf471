"""executor.registry against real registries: Debian's docker-registry (distribution 2.8) on loopback, filled with
Debian's skopeo. Three registry processes per session: an open one, one behind the token flow (its token server
runs in this process, and its blob downloads are redirected to a storage server in this process, like S3 URLs),
and one behind Basic auth (htpasswd). Images are built here with plain Python, as OCI image layouts."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from executor import images, oci
from executor import registry as registry_module
from executor.config import Config
from executor.images import Store
from executor.registry import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Client,
    Manifest,
    Reference,
    RegistryError,
    _parse_challenges,
    _scope_key,
)
from executor.result import Status
from executor.sandbox import Sandbox
from tests.conftest import quick
from tests.image_archives import ImageSpec, base_layer, docker_save, layer_tar, oci_layout

USER, PASSWORD = "tester", "secret"
TINY_IMAGE = ImageSpec([layer_tar(base_layer())])
SERVICE, ISSUER = "test-registry", "test-issuer"
# bcrypt("secret"), cost 4 (the minimum): distribution's htpasswd accepts only bcrypt.
HTPASSWD = f"{USER}:$2b$04$ncxCIRkqdzKYP.nTzgG1TeXic8/LrVn43KYqzC/InPt8EKJTBqARu\n"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


# --- tools --------------------------------------------------------------------------------------------------------


def require(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} not found: these tests need the Debian package {package} (apt-get install -y {package})",
                    pytrace=False)  # fmt: skip
    return path


@pytest.fixture(scope="session")
def skopeo() -> Callable[..., subprocess.CompletedProcess[str]]:
    binary = require("skopeo", "skopeo")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        # --insecure-policy: no signature policy applies to these throw-away images, whatever /etc/containers says.
        result = subprocess.run([binary, "--insecure-policy", *args], capture_output=True, text=True, timeout=120,
                                check=False)  # fmt: skip
        assert result.returncode == 0, f"skopeo {' '.join(args)} failed: {result.stderr}"
        return result

    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RegistryProcess:
    """One docker-registry process on 127.0.0.1, its storage in `root`."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def blob_file(self, digest: str) -> Path:
        hex_digest = digest.removeprefix("sha256:")
        return self.root / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_registry(directory: Path, port: int, extra: dict[str, Any] | None = None) -> RegistryProcess:
    binary = require("docker-registry", "docker-registry")
    root = directory / "storage"
    root.mkdir(parents=True)
    # JSON is YAML: the config needs no YAML library.
    config = {
        "version": "0.1",
        "log": {"level": "info"},
        "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex},
        **(extra or {}),
    }
    (directory / "config.yml").write_text(json.dumps(config))
    log = directory / "registry.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([binary, "serve", str(directory / "config.yml")], stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
    started = RegistryProcess(root=root, port=port, process=process, log=log)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited with {process.returncode}: {log.read_text()[-2000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(f"http://{started.host}/v2/", timeout=2):  # noqa: S310
                return started
        except urllib.error.HTTPError as error:  # 401: up, and asking for credentials
            error.close()
            return started
        except OSError:
            if time.monotonic() > deadline:
                started.stop()
                pytest.fail(f"docker-registry did not answer GET /v2/ in 30 s: {log.read_text()[-2000:]}",
                            pytrace=False)  # fmt: skip
            time.sleep(0.05)


def serve_in_thread(handler: type[http.server.BaseHTTPRequestHandler]) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    started = start_registry(tmp_path_factory.mktemp("open-registry"), free_port())
    yield started
    started.stop()


# --- the token flow: a token server, and a storage server the registry redirects blob downloads to -------------------


@dataclass
class TokenServer:
    port: int
    # (user or "" when anonymous, service, [scopes]) of each token request answered with a token
    requests: list[tuple[str, str, list[str]]] = field(default_factory=list)
    refused: int = 0  # requests with wrong credentials


@dataclass
class StorageServer:
    port: int
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization header)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_signer(directory: Path) -> tuple[rsa.RSAPrivateKey, bytes, Path]:
    """An RSA key and its self-signed certificate (DER, and PEM in a file for the registry's rootcertbundle)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test token signer")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = directory / "cert.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert.public_bytes(serialization.Encoding.DER), pem


def make_jwt(key: rsa.RSAPrivateKey, cert_der: bytes, claims: dict[str, Any]) -> str:
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(cert_der).decode()]}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def start_token_server(key: rsa.RSAPrivateKey, cert_der: bytes) -> tuple[TokenServer, http.server.HTTPServer]:
    state = TokenServer(port=0)

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            user = ""
            auth = self.headers.get("Authorization", "")
            if auth:
                given = base64.b64decode(auth.removeprefix("Basic ")).decode()
                if given != f"{USER}:{PASSWORD}":
                    state.refused += 1
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"details": "wrong credentials"}')
                    return
                user = USER
            scopes = query.get("scope", [])
            state.requests.append((user, query.get("service", [""])[0], scopes))
            access = []
            for scope in scopes:
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                # Anonymous users get a token that grants nothing, as Docker Hub does for private repositories.
                access.append({"type": kind, "name": name, "actions": actions.split(",") if user else []})
            now = int(time.time())
            claims = {"iss": ISSUER, "sub": user, "aud": SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                      "jti": uuid.uuid4().hex, "access": access}  # fmt: skip
            body = json.dumps({"token": make_jwt(key, cert_der, claims), "expires_in": 300}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = serve_in_thread(Handler)
    state.port = server.server_address[1]
    return state, server


def start_storage_server(root: Path) -> tuple[StorageServer, http.server.HTTPServer]:
    state = StorageServer(port=0)

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            state.requests.append((path, self.headers.get("Authorization")))
            file = root / path.lstrip("/")
            if ".." in path or not file.is_file():
                self.send_error(404)
                return
            # HTTP/1.0 without Content-Length: the body ends when the connection closes, so the client's size
            # limit is enforced while streaming, not from a header.
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(file.read_bytes())

    server = serve_in_thread(Handler)
    state.port = server.server_address[1]
    return state, server


@dataclass
class TokenRegistry:
    registry: RegistryProcess
    tokens: TokenServer
    storage: StorageServer


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    directory = tmp_path_factory.mktemp("token-registry")
    key, cert_der, pem = make_signer(directory)
    tokens, token_http = start_token_server(key, cert_der)
    root = directory / "storage"  # made by start_registry; the storage server serves it
    storage, storage_http = start_storage_server(root)
    extra = {
        "auth": {"token": {"realm": f"http://127.0.0.1:{tokens.port}/token", "service": SERVICE, "issuer": ISSUER,
                           "rootcertbundle": str(pem)}},
        # Blob downloads answer 307 to the storage server, as registries on S3 or behind a CDN do.
        "middleware": {"storage": [{"name": "redirect", "options": {"baseurl": f"http://127.0.0.1:{storage.port}"}}]},
    }  # fmt: skip
    started = start_registry(directory, free_port(), extra)
    yield TokenRegistry(registry=started, tokens=tokens, storage=storage)
    started.stop()
    token_http.shutdown()
    storage_http.shutdown()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    directory = tmp_path_factory.mktemp("basic-registry")
    (directory / "htpasswd").write_text(HTPASSWD)
    extra = {"auth": {"htpasswd": {"realm": "test-basic", "path": str(directory / "htpasswd")}}}
    started = start_registry(directory, free_port(), extra)
    yield started
    started.stop()


# --- images built with plain Python --------------------------------------------------------------------------------


@dataclass
class Image:
    config: bytes
    layers: list[bytes]
    manifest: Manifest

    def blobs(self) -> dict[str, bytes]:
        return {sha256(blob): blob for blob in [self.config, *self.layers]}


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def make_layer(files: dict[str, bytes]) -> tuple[bytes, bytes]:
    """(gzip-compressed tar, the tar) of `files`, byte-for-byte reproducible."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 1700000000, 0o644
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0), raw.getvalue()


def build_image(*layers: dict[str, bytes], architecture: str = "amd64") -> Image:
    compressed, diff_ids = [], []
    for files in layers:
        gz, tar = make_layer(files)
        compressed.append(gz)
        diff_ids.append(sha256(tar))
    config = json.dumps({"architecture": architecture, "os": "linux", "config": {"Cmd": ["/hello"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()  # fmt: skip
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CONFIG_TYPE, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": LAYER_TYPE, "digest": sha256(gz), "size": len(gz)} for gz in compressed],
    }
    return Image(config, compressed, Manifest.from_body(OCI_MANIFEST, json.dumps(manifest, indent=2).encode()))


def unique_image(architecture: str = "amd64") -> Image:
    """Two layers with content no other test has: storage is shared by repositories, tests must not share blobs."""
    marker = uuid.uuid4().hex.encode()
    return build_image({"hello": b"hello from " + marker + b"\n", "etc/os-release": b"ID=test\n"},
                       {"data/big.bin": os.urandom(300_000) + marker}, architecture=architecture)  # fmt: skip


def write_layout(image: Image, directory: Path, tag: str) -> Path:
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for digest, data in [*image.blobs().items(), (image.manifest.digest, image.manifest.body)]:
        (blobs / digest.removeprefix("sha256:")).write_bytes(data)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": image.manifest.digest, "size": len(image.manifest.body),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}  # fmt: skip
    (directory / "index.json").write_text(json.dumps(index))
    return directory


def read_layout_blob(directory: Path, digest: str) -> bytes:
    return (directory / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def scope_set(scopes: list[str]) -> set[tuple[str, frozenset[str]]]:
    """Scopes as sets of actions: distribution 2.8 writes "pull,push" or "push,pull" at random (a Go map)."""
    return {(scope.rpartition(":")[0], frozenset(scope.rpartition(":")[2].split(","))) for scope in scopes}


def repo_name() -> str:
    return f"test/img-{uuid.uuid4().hex[:12]}"


def pull_blobs(client: Client, repository: str, manifest: Manifest, into: Path) -> dict[str, bytes]:
    document = json.loads(manifest.body)
    pulled = {}
    for descriptor in [document["config"], *document["layers"]]:
        path = into / descriptor["digest"].replace(":", "-")
        with open(path, "wb") as out:
            written = client.blob(repository, descriptor["digest"], out, max_bytes=10 << 20)
        assert written == descriptor["size"]
        pulled[descriptor["digest"]] = path.read_bytes()
    return pulled


def push_image(client: Client, repository: str, image: Image, tag: str) -> str:
    for digest, data in image.blobs().items():
        client.push_blob(repository, io.BytesIO(data), digest, len(data))
    return client.push_manifest(repository, tag, image.manifest)


@pytest.fixture(scope="session")
def seeded(registry: RegistryProcess, skopeo: Callable[..., Any],
           tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Image]:  # fmt: skip
    """An image put into the open registry by skopeo, from an OCI layout built here."""
    image = unique_image()
    layout = write_layout(image, tmp_path_factory.mktemp("layout") / "image", "v1")
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{registry.host}/seeded/app:v1")
    return "seeded/app", image


# --- Reference.parse ---------------------------------------------------------------------------------------------

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python:3.12", ("registry-1.docker.io", "library/python", "3.12", None)),
        ("python", ("registry-1.docker.io", "library/python", "latest", None)),
        ("library/python", ("registry-1.docker.io", "library/python", "latest", None)),
        ("me/img:1.0", ("registry-1.docker.io", "me/img", "1.0", None)),
        ("docker.io/python", ("registry-1.docker.io", "library/python", "latest", None)),
        ("index.docker.io/me/img", ("registry-1.docker.io", "me/img", "latest", None)),
        ("ghcr.io/owner/tool:v2", ("ghcr.io", "owner/tool", "v2", None)),
        ("localhost:5000/img", ("localhost:5000", "img", "latest", None)),
        ("localhost/img:t", ("localhost", "img", "t", None)),
        ("127.0.0.1:5000/a/b/c:tag_1", ("127.0.0.1:5000", "a/b/c", "tag_1", None)),
        ("Registry/img", ("Registry", "img", "latest", None)),  # upper case: a registry, as Docker reads it
        (f"python@{DIGEST}", ("registry-1.docker.io", "library/python", None, DIGEST)),
        (f"python:3.12@{DIGEST}", ("registry-1.docker.io", "library/python", "3.12", DIGEST)),
        (f"localhost:5000/img@{DIGEST}", ("localhost:5000", "img", None, DIGEST)),
        ("my-org/my_image.x__y:1", ("registry-1.docker.io", "my-org/my_image.x__y", "1", None)),
    ],
)
def test_reference_parse_follows_dockers_rules(text: str, expected: tuple[str, str, str | None, str | None]) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected
    assert Reference.parse(str(ref)) == ref  # __str__ is the full, normalised form


def test_reference_parse_default_registry_and_reference_property() -> None:
    ref = Reference.parse("python:3.12", default_registry="127.0.0.1:5000")
    assert (ref.registry, ref.repository, ref.reference) == ("127.0.0.1:5000", "library/python", "3.12")
    assert str(ref) == "127.0.0.1:5000/library/python:3.12"
    assert Reference.parse(f"python:3.12@{DIGEST}").reference == DIGEST


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "empty"),
        (" python", "spaces"),
        ("Python", "lower-case"),
        ("python:", "not a valid tag"),
        ("python:-x", "not a valid tag"),
        ("python@sha256:abc", "not a sha256 or sha512 digest"),
        ("python@md5:" + "a" * 32, "not a sha256 or sha512 digest"),
        ("a//b", "not a repository name"),
        ("my_registry.example.com/img", "not a registry"),
        ("img/../etc", "not a repository name"),
        ("x/" + "a" * 260, "longer than"),
        (":tag", "not a repository name"),
    ],
)
def test_reference_parse_rejects_invalid_text(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Reference.parse(text)


def test_www_authenticate_parser_reads_quoted_commas_and_several_challenges() -> None:
    header = ('Bearer realm="https://auth.example/token?x=1,2",service="reg.example",'
              'scope="repository:a/b:pull,push repository:c:pull", error="in\\"sufficient",'
              ' Basic realm=plain')  # fmt: skip
    assert _parse_challenges(header) == [
        ("bearer", {"realm": "https://auth.example/token?x=1,2", "service": "reg.example",
                    "scope": "repository:a/b:pull,push repository:c:pull", "error": 'in"sufficient'}),
        ("basic", {"realm": "plain"}),
    ]  # fmt: skip


def test_token_cache_key_ignores_the_order_of_actions_and_scopes() -> None:
    # distribution 2.8 writes a challenge's actions in Go map order: "pull,push" mostly, "push,pull" sometimes.
    assert _scope_key("repository:a/b:push,pull") == _scope_key("repository:a/b:pull,push")
    assert _scope_key("repository:x:pull repository:a/b:push,pull") == _scope_key(
        "repository:a/b:pull,push repository:x:pull"
    )
    assert _scope_key("repository:a/b:pull") != _scope_key("repository:a/b:pull,push")


# --- pulling -----------------------------------------------------------------------------------------------------


def test_pull_by_tag_returns_the_manifest_as_served_and_verified_blobs(
    registry: RegistryProcess, seeded: tuple[str, Image], tmp_path: Path
) -> None:
    repository, image = seeded
    client = Client(registry.host, insecure=True)
    manifest = client.manifest(repository, "v1")
    assert manifest.media_type == OCI_MANIFEST
    assert manifest.digest == sha256(manifest.body)
    assert manifest.body == image.manifest.body  # skopeo copied it unchanged: same digest
    pulled = pull_blobs(client, repository, manifest, tmp_path)
    assert pulled == image.blobs()
    with tarfile.open(fileobj=io.BytesIO(pulled[sha256(image.layers[0])])) as tar:
        hello = tar.extractfile("hello")
        assert hello is not None and hello.read().startswith(b"hello from ")


def test_pull_by_digest_verifies_and_returns_the_same_manifest(registry: RegistryProcess,
                                                               seeded: tuple[str, Image]) -> None:  # fmt: skip
    repository, image = seeded
    manifest = Client(registry.host, insecure=True).manifest(repository, image.manifest.digest)
    assert manifest == image.manifest


def test_pull_reads_a_docker_v2_manifest(registry: RegistryProcess, skopeo: Callable[..., Any],
                                         tmp_path: Path) -> None:  # fmt: skip
    image = unique_image()
    layout = write_layout(image, tmp_path / "layout", "v1")
    repository = repo_name()
    skopeo("copy", "--dest-tls-verify=false", "--format", "v2s2", f"oci:{layout}:v1",
           f"docker://{registry.host}/{repository}:v1")  # fmt: skip
    client = Client(registry.host, insecure=True)
    manifest = client.manifest(repository, "v1")
    assert manifest.media_type == DOCKER_MANIFEST
    assert manifest.digest == sha256(manifest.body) != image.manifest.digest  # converted, so another digest
    layers = [layer["digest"] for layer in json.loads(manifest.body)["layers"]]
    assert layers == [sha256(layer) for layer in image.layers]
    assert pull_blobs(client, repository, manifest, tmp_path)[layers[1]] == image.layers[1]


def test_index_resolves_to_the_requested_platform(registry: RegistryProcess, skopeo: Callable[..., Any]) -> None:
    client = Client(registry.host, insecure=True)
    repository = repo_name()
    amd64, arm64 = unique_image("amd64"), unique_image("arm64")
    for image in (arm64, amd64):  # arm64 first: the choice must come from the platform, not the order
        push_image(client, repository, image, image.manifest.digest)
    index_doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": arm64.manifest.digest, "size": len(arm64.manifest.body),
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"mediaType": OCI_MANIFEST, "digest": amd64.manifest.digest, "size": len(amd64.manifest.body),
         "platform": {"os": "linux", "architecture": "amd64"}}]}  # fmt: skip
    index = Manifest.from_body(OCI_INDEX, json.dumps(index_doc).encode())
    assert client.push_manifest(repository, "multi", index) == index.digest

    assert client.manifest(repository, "multi") == amd64.manifest
    assert client.manifest(repository, index.digest, platform="linux/arm64") == arm64.manifest
    assert client.manifest(repository, "multi", platform="linux/arm64/v8") == arm64.manifest
    with pytest.raises(RegistryError, match=r"no manifest for platform linux/s390x .*linux/arm64/v8, linux/amd64"):
        client.manifest(repository, "multi", platform="linux/s390x")
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/{repository}:multi").stdout
    assert sha256(raw.encode()) == index.digest  # what skopeo reads is what we pushed


def test_blob_corrupted_in_storage_is_refused(registry: RegistryProcess, tmp_path: Path) -> None:
    client = Client(registry.host, insecure=True)
    repository, image = repo_name(), unique_image()
    push_image(client, repository, image, "v1")
    layer = image.layers[1]
    stored = registry.blob_file(sha256(layer))
    assert stored.read_bytes() == layer
    stored.write_bytes(layer[:-1] + bytes([layer[-1] ^ 0xFF]))  # same size, one byte changed
    with open(tmp_path / "blob", "wb") as out, pytest.raises(RegistryError, match="does not match its digest"):
        client.blob(repository, sha256(layer), out, max_bytes=10 << 20)


def test_manifest_corrupted_in_storage_is_refused_by_tag_and_by_digest(registry: RegistryProcess) -> None:
    client = Client(registry.host, insecure=True)
    repository, image = repo_name(), unique_image()
    push_image(client, repository, image, "v1")
    stored = registry.blob_file(image.manifest.digest)
    assert stored.read_bytes() == image.manifest.body
    stored.write_bytes(image.manifest.body.replace(b'\n  "', b'\n\t "', 1))  # still valid JSON, same size
    with pytest.raises(RegistryError, match=f"does not match digest {image.manifest.digest}"):
        client.manifest(repository, image.manifest.digest)
    with pytest.raises(RegistryError, match=f"does not match digest {image.manifest.digest}"):
        client.manifest(repository, "v1")  # the registry's Docker-Content-Digest still names the pushed one


def test_blob_above_max_bytes_is_refused(registry: RegistryProcess, seeded: tuple[str, Image]) -> None:
    repository, image = seeded
    client = Client(registry.host, insecure=True)
    layer = image.layers[1]
    out = io.BytesIO()
    with pytest.raises(RegistryError, match=f"more than the limit of {len(layer) - 1}"):
        client.blob(repository, sha256(layer), out, max_bytes=len(layer) - 1)
    assert out.getvalue() == b""  # refused from the Content-Length, before writing anything
    assert client.blob(repository, sha256(layer), out, max_bytes=len(layer)) == len(layer)
    assert out.getvalue() == layer


def test_manifest_above_the_cap_is_refused(registry: RegistryProcess, seeded: tuple[str, Image],
                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    repository, image = seeded
    monkeypatch.setattr(registry_module, "MAX_MANIFEST_BYTES", len(image.manifest.body) - 1)
    with pytest.raises(RegistryError, match="manifest is .* more than the limit"):
        Client(registry.host, insecure=True).manifest(repository, "v1")


def test_unknown_repository_tag_and_blob_name_the_registrys_error_code(registry: RegistryProcess,
                                                                       seeded: tuple[str, Image]) -> None:  # fmt: skip
    client = Client(registry.host, insecure=True)
    repository, _ = seeded
    with pytest.raises(RegistryError, match=r"^GET /v2/no/such/manifests/v1: HTTP 404 .*MANIFEST_UNKNOWN"):
        client.manifest("no/such", "v1")
    with pytest.raises(RegistryError, match=rf"GET /v2/{repository}/manifests/nope: HTTP 404 .*MANIFEST_UNKNOWN"):
        client.manifest(repository, "nope")
    with pytest.raises(RegistryError, match=r"HTTP 404 .*BLOB_UNKNOWN"):
        client.blob(repository, DIGEST, io.BytesIO(), max_bytes=1000)


def test_unreachable_registry_is_a_registry_error() -> None:
    client = Client(f"127.0.0.1:{free_port()}", insecure=True, timeout=5)
    with pytest.raises(RegistryError, match="GET /v2/x/manifests/v1: .*refused"):
        client.manifest("x", "v1")


# --- pushing -----------------------------------------------------------------------------------------------------


def test_pushed_image_reads_back_with_skopeo_with_the_same_digests(
    registry: RegistryProcess, skopeo: Callable[..., Any], tmp_path: Path
) -> None:
    client = Client(registry.host, insecure=True)
    repository, image = repo_name(), unique_image()
    assert push_image(client, repository, image, "v1") == image.manifest.digest
    ref = f"docker://{registry.host}/{repository}:v1"
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", ref).stdout)
    assert inspected["Digest"] == image.manifest.digest
    assert inspected["Layers"] == [sha256(layer) for layer in image.layers]
    skopeo("copy", "--src-tls-verify=false", ref, f"oci:{tmp_path / 'out'}:v1")
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == image.manifest.digest
    for digest, data in image.blobs().items():
        assert read_layout_blob(tmp_path / "out", digest) == data


def test_push_blob_skips_a_blob_the_registry_has(registry: RegistryProcess, seeded: tuple[str, Image]) -> None:
    repository, image = seeded

    class Unreadable(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise AssertionError("the blob is there: its data must not be read")

    Client(registry.host, insecure=True).push_blob(repository, Unreadable(), sha256(image.config), len(image.config))


def test_push_blob_whose_bytes_do_not_match_the_digest_is_refused(registry: RegistryProcess) -> None:
    data = uuid.uuid4().bytes
    with pytest.raises(RegistryError, match=r"^PUT /v2/.*/blobs/uploads/.*: HTTP 400 .*DIGEST_INVALID"):
        Client(registry.host, insecure=True).push_blob(repo_name(), io.BytesIO(data), DIGEST, len(data))


def test_push_blob_with_data_shorter_than_its_size_fails_at_once(registry: RegistryProcess) -> None:
    client = Client(registry.host, insecure=True, timeout=30)
    started = time.monotonic()
    with pytest.raises(RegistryError, match="data ended after 3 of 6 bytes"):
        client.push_blob(repo_name(), io.BytesIO(b"abc"), sha256(b"abcdef"), 6)
    assert time.monotonic() - started < 10  # not left waiting for the registry to time out


def test_push_manifest_refuses_a_digest_that_is_not_of_its_body(registry: RegistryProcess) -> None:
    image = unique_image()
    forged = Manifest(OCI_MANIFEST, image.manifest.body, DIGEST)
    with pytest.raises(ValueError, match="not the sha256 of its body"):
        Client(registry.host, insecure=True).push_manifest(repo_name(), "v1", forged)


def test_push_manifest_with_missing_blobs_names_the_registrys_error(registry: RegistryProcess) -> None:
    with pytest.raises(RegistryError, match=r"PUT /v2/.*/manifests/v1: HTTP 400 .*MANIFEST_BLOB_UNKNOWN"):
        Client(registry.host, insecure=True).push_manifest(repo_name(), "v1", unique_image().manifest)


# --- authentication --------------------------------------------------------------------------------------------


def test_token_flow_pushes_and_pulls_with_credentials(token_registry: TokenRegistry, tmp_path: Path) -> None:
    host = token_registry.registry.host
    repository, image = repo_name(), unique_image()
    pusher = Client(host, insecure=True, username=USER, password=PASSWORD)
    assert push_image(pusher, repository, image, "v1") == image.manifest.digest
    assert all(service == SERVICE for _, service, _ in token_registry.tokens.requests)
    seen = [scope_set(scopes) for user, _, scopes in token_registry.tokens.requests if user == USER]
    # One token per scope for three blobs and a manifest: HEAD before each blob needs pull, the uploads and the
    # manifest need what the registry's challenge asked for (pull and push).
    assert seen.count({(f"repository:{repository}", frozenset({"pull"}))}) == 1
    assert seen.count({(f"repository:{repository}", frozenset({"pull", "push"}))}) == 1

    before = len(token_registry.tokens.requests)
    puller = Client(host, insecure=True, username=USER, password=PASSWORD)
    manifest = puller.manifest(repository, "v1")
    assert manifest == image.manifest
    assert pull_blobs(puller, repository, manifest, tmp_path) == image.blobs()
    # One token for the whole pull: cached per scope.
    assert token_registry.tokens.requests[before:] == [(USER, SERVICE, [f"repository:{repository}:pull"])]
    # The blobs came from the storage server the registry redirected to, and our token did not follow them there.
    fetched = [(path, auth) for path, auth in token_registry.storage.requests if sha256(image.config)[7:] in path]
    assert fetched and all(auth is None for _, auth in fetched)


def test_token_expired_during_an_upload_is_renewed_and_the_blob_sent_again(token_registry: TokenRegistry) -> None:
    client = Client(token_registry.registry.host, insecure=True, username=USER, password=PASSWORD)
    repository, data = repo_name(), os.urandom(200_000)
    push_scope = f"repository:{repository}:pull,push"

    class ExpiresOnTell(io.BytesIO):
        """Called once the upload has started and just before the PUT: the cached token expires right then."""

        def tell(self) -> int:
            client._tokens[push_scope] = "expired-token"
            return super().tell()

    before = len(token_registry.tokens.requests)
    client.push_blob(repository, ExpiresOnTell(data), sha256(data), len(data))
    push_tokens = [r for r in token_registry.tokens.requests[before:] if scope_set(r[2]) == scope_set([push_scope])]
    assert len(push_tokens) == 2  # one for the upload's POST, one more after the PUT was refused
    out = io.BytesIO()
    assert client.blob(repository, sha256(data), out, max_bytes=len(data)) == len(data)  # all of it, the 2nd time


def test_token_flow_streams_against_max_bytes_without_content_length(token_registry: TokenRegistry) -> None:
    host = token_registry.registry.host
    client = Client(host, insecure=True, username=USER, password=PASSWORD)
    repository, image = repo_name(), unique_image()
    push_image(client, repository, image, "v1")
    layer = image.layers[1]
    out = io.BytesIO()
    with pytest.raises(RegistryError, match=f"more than the limit of {len(layer) - 10} bytes"):
        client.blob(repository, sha256(layer), out, max_bytes=len(layer) - 10)
    assert len(out.getvalue()) <= len(layer) - 10


def test_token_flow_without_credentials_is_refused_with_401(token_registry: TokenRegistry) -> None:
    host = token_registry.registry.host
    repository, image = repo_name(), unique_image()
    push_image(Client(host, insecure=True, username=USER, password=PASSWORD), repository, image, "v1")
    anonymous = Client(host, insecure=True)
    with pytest.raises(RegistryError, match=rf"^GET /v2/{repository}/manifests/v1: HTTP 401 .*UNAUTHORIZED") as info:
        anonymous.manifest(repository, "v1")
    assert token_registry.tokens.requests[-1] == ("", SERVICE, [f"repository:{repository}:pull"])
    with pytest.raises(RegistryError, match="HTTP 401"):
        anonymous.push_blob(repository, io.BytesIO(b"x"), sha256(b"x"), 1)
    assert "Bearer" not in str(info.value) and "eyJ" not in str(info.value)  # no token in the message


def test_token_flow_with_a_wrong_password_is_refused_with_401(token_registry: TokenRegistry) -> None:
    wrong = "not-the-password-1234"
    client = Client(token_registry.registry.host, insecure=True, username=USER, password=wrong)
    refused = token_registry.tokens.refused
    with pytest.raises(RegistryError, match=r"GET 127\.0\.0\.1:\d+/token \(token\): HTTP 401") as info:
        client.manifest("any/repo", "v1")
    assert token_registry.tokens.refused == refused + 1
    message = str(info.value)
    secret = base64.b64encode(f"{USER}:{wrong}".encode()).decode()
    assert wrong not in message and secret not in message and "?" not in message


def test_basic_auth_registry_pushes_and_pulls_with_credentials(basic_registry: RegistryProcess,
                                                               tmp_path: Path) -> None:  # fmt: skip
    repository, image = repo_name(), unique_image()
    client = Client(basic_registry.host, insecure=True, username=USER, password=PASSWORD)
    push_image(client, repository, image, "v1")
    manifest = client.manifest(repository, "v1")
    assert pull_blobs(client, repository, manifest, tmp_path) == image.blobs()
    with pytest.raises(RegistryError, match=r"HTTP 401 .*UNAUTHORIZED") as info:
        Client(basic_registry.host, insecure=True, username=USER, password="wrong-pass").manifest(repository, "v1")
    assert "wrong-pass" not in str(info.value)
    with pytest.raises(RegistryError, match="HTTP 401"):
        Client(basic_registry.host, insecure=True).manifest(repository, "v1")


def test_token_realm_over_plain_http_is_refused_unless_insecure() -> None:
    # A registry reached over https whose challenge sends our password to an http realm: refused before sending.
    client = Client("registry.invalid", username=USER, password=PASSWORD)
    with pytest.raises(RegistryError, match="refusing to ask token realm .* over plain http"):
        client._fetch_token({"realm": "http://auth.invalid/token", "service": "x"})


# --- what no registry of ours serves: schema 1 -------------------------------------------------------------------


def test_schema1_manifest_is_refused() -> None:
    # distribution 2.8 no longer accepts schema 1 pushes, so a minimal server plays an old registry.
    body = json.dumps({"schemaVersion": 1, "name": "old/img", "tag": "v1", "fsLayers": [], "history": []}).encode()

    class OldRegistry(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = serve_in_thread(OldRegistry)
    try:
        client = Client(f"127.0.0.1:{server.server_address[1]}", insecure=True)
        with pytest.raises(RegistryError, match="schema 1 manifests are not supported"):
            client.manifest("old/img", "v1")
    finally:
        server.shutdown()


# ----------------------------------------------------------------------------- the image store and a registry --


def test_an_image_pushed_from_the_store_pulls_into_another_store_and_runs(
        registry: RegistryProcess, skopeo: Callable[..., Any], tmp_path: Path, config: Config) -> None:  # fmt: skip
    first = Store(str(tmp_path / "first"))
    (image,) = oci.import_archive(first, str(docker_save(tmp_path / "tiny.tar", {"tiny:1": TINY_IMAGE})))
    client = Client(registry.host, insecure=True)
    reference = Reference.parse(f"{registry.host}/course/tiny:1")
    digest = oci.push(first, client, "tiny:1", reference)
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/course/tiny:1").stdout)
    assert inspected["Digest"] == digest and len(inspected["Layers"]) == 1  # another tool reads what we pushed
    second = Store(str(tmp_path / "second"))
    pulled = oci.pull(second, client, reference)
    assert pulled.name == "course/tiny:1" and pulled.layers == image.layers and pulled.config_digest == image.id
    assert pulled.source == f"registry {reference}"
    layout, env = images.box_setup(second, "course/tiny:1")
    with Sandbox(config, layout=layout, env=env) as box:
        result = box.run(["/bin/sh", "-c", "echo pulled; cat /etc/image-release"], quick())
    assert result.status is Status.OK and result.stdout == b"pulled\ntiny busybox image\n"


def test_push_and_pull_through_a_registry_with_the_token_flow(token_registry: TokenRegistry, tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    oci.import_archive(store, str(docker_save(tmp_path / "tiny.tar", {"tiny:1": TINY_IMAGE})))
    host = token_registry.registry.host
    reference = Reference.parse(f"{host}/course/tokened:1")
    with pytest.raises(RegistryError, match="401"):
        oci.push(store, Client(host, insecure=True), "tiny:1", reference)
    oci.push(store, Client(host, insecure=True, username=USER, password=PASSWORD), "tiny:1", reference)
    other = Store(str(tmp_path / "other"))
    pulled = oci.pull(other, Client(host, insecure=True, username=USER, password=PASSWORD), reference, "mine:1")
    assert pulled.name == "mine:1" and pulled.layers == store.get("tiny:1").layers
    assert other.images() == [pulled]


def test_a_pull_of_an_unknown_image_leaves_the_store_unchanged(registry: RegistryProcess, tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    with pytest.raises(RegistryError, match="MANIFEST_UNKNOWN"):
        oci.pull(store, Client(registry.host, insecure=True), Reference.parse(f"{registry.host}/nobody/nothing:1"))
    assert store.images() == []


def test_an_exported_image_is_read_by_skopeo(skopeo: Callable[..., Any], tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    (image,) = oci.import_archive(store, str(docker_save(tmp_path / "tiny.tar", {"tiny:1": TINY_IMAGE})))
    oci.export_archive(store, "tiny:1", str(tmp_path / "out.tar"))
    inspected = json.loads(skopeo("inspect", f"oci-archive:{tmp_path / 'out.tar'}:1").stdout)
    assert inspected["Layers"] == [layer.digest for layer in image.layers]
    assert "IMAGE_GREETING=hello from the image" in inspected["Env"]


def test_an_image_skopeo_put_in_the_registry_pulls_into_the_store_and_runs(
        registry: RegistryProcess, skopeo: Callable[..., Any], tmp_path: Path, config: Config) -> None:  # fmt: skip
    layout = oci_layout(tmp_path / "tiny.oci.tar", "tiny:7", TINY_IMAGE)
    skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{layout}:7", f"docker://{registry.host}/skopeo/tiny:7")
    store = Store(str(tmp_path / "store"))
    pulled = oci.pull(store, Client(registry.host, insecure=True), Reference.parse(f"{registry.host}/skopeo/tiny:7"))
    assert pulled.name == "skopeo/tiny:7" and len(pulled.layers) == 1
    layout_, env = images.box_setup(store, pulled.name)
    with Sandbox(config, layout=layout_, env=env) as box:
        result = box.run(["/bin/sh", "-c", 'echo "$IMAGE_GREETING"'], quick())
    assert result.status is Status.OK and result.stdout == b"hello from the image\n"
