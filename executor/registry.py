"""A client of the OCI Distribution API (Docker Registry HTTP API v2): pull and push manifests and blobs.

Standard library only, so that the runtime stays installable into the machine's own `python3`.

What is trusted, and why:
- Content is addressed by digest. A blob is hashed while it streams and refused when it does not match; a
  manifest fetched by digest is checked against that digest, one fetched by tag against the registry's
  Docker-Content-Digest. A registry (or anything on the way) can therefore refuse to serve, but cannot swap the
  bytes of anything named by digest.
- Credentials (Basic, or the bearer tokens of the token flow) go only to the registry's own origin and to the
  token realm it names. Registries redirect blob downloads to storage (S3, a CDN) whose URLs authenticate by
  their query string: a redirect to another origin is followed without our Authorization header (urllib's own
  redirect handler would forward it, so redirects are followed here).
- Sizes are capped before anything is buffered: a manifest at MAX_MANIFEST_BYTES, a blob at the caller's limit.
- Error messages name the method, the URL's path and the status, never a query string, a credential or a token.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# Schema 1 names layers by digests that nothing verifies (the signature covers a JSON rendering, not the bytes
# served), and has been deprecated since 2017: refused rather than half-supported.
_SCHEMA1_TYPES = frozenset({"application/vnd.docker.distribution.manifest.v1+json",
                            "application/vnd.docker.distribution.manifest.v1+prettyjws"})  # fmt: skip
_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])

MAX_MANIFEST_BYTES = 4 << 20  # bytes; real manifests and indexes are a few KiB, a bigger one is broken or hostile
_MAX_SMALL_BODY = 1 << 20  # bytes of an error body or a token answer that are read
_CHUNK = 1 << 20  # bytes per read while streaming a blob
_MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_USER_AGENT = "sandbox-executor-registry/1"

DOCKER_HUB = "registry-1.docker.io"  # where Docker Hub's API answers; "docker.io" is only its name
_HUB_NAMES = frozenset({"docker.io", "index.docker.io", DOCKER_HUB})

# The grammar of github.com/distribution/reference (regexp.go), with digests narrowed to what can be verified.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")
_MAX_NAME = 255  # characters of registry + "/" + repository, as Docker allows


class RegistryError(Exception):
    """A registry operation failed. One line: what failed, with the HTTP status if any."""


@dataclass(frozen=True)
class Reference:
    registry: str  # "localhost:5000", "registry-1.docker.io", "ghcr.io"
    repository: str  # "library/python", "me/img"
    tag: str | None  # "3.12"; "latest" when the text names neither a tag nor a digest
    digest: str | None  # "sha256:..."; when given it pins the content and the tag is only informative

    @classmethod
    def parse(cls, text: str, default_registry: str = DOCKER_HUB) -> Reference:
        """Docker's rules: `[registry/]repository[:tag][@digest]`, where the first component is a registry when
        it holds a "." or ":" or an upper-case letter or is "localhost"; single-component names on Docker Hub,
        or without a registry in the text, get "library/" (Docker Hub's official images, also on its mirrors)."""
        if not text or text != text.strip():
            raise ValueError(f"invalid image reference {text!r}: empty or surrounded by spaces")
        name, at, digest = text.partition("@")
        if at and not _DIGEST.fullmatch(digest):
            raise ValueError(f"invalid image reference {text!r}: {digest!r} is not a sha256 or sha512 digest")
        tag = None
        colon = name.rfind(":")
        if colon > name.rfind("/"):  # a ":" before the last "/" is a registry's port, not a tag
            name, tag = name[:colon], name[colon + 1 :]
            if not _TAG.fullmatch(tag):
                raise ValueError(f"invalid image reference {text!r}: {tag!r} is not a valid tag")
        first, slash, rest = name.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
            registry, repository, explicit = first, rest, True
        else:
            registry, repository, explicit = default_registry, name, False
        if not _DOMAIN.fullmatch(registry):
            raise ValueError(f"invalid image reference {text!r}: {registry!r} is not a registry host[:port]")
        if registry in _HUB_NAMES:
            registry = DOCKER_HUB
        if "/" not in repository and (not explicit or registry == DOCKER_HUB):
            repository = f"library/{repository}"
        if not _REPOSITORY.fullmatch(repository):
            hint = " (repository names are lower-case)" if repository.lower() != repository else ""
            raise ValueError(f"invalid image reference {text!r}: {repository!r} is not a repository name{hint}")
        if len(registry) + 1 + len(repository) > _MAX_NAME:
            raise ValueError(f"invalid image reference {text!r}: name longer than {_MAX_NAME} characters")
        if tag is None and not at:
            tag = "latest"
        return cls(registry=registry, repository=repository, tag=tag, digest=digest if at else None)

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when there is one (it pins the content), else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.registry}/{self.repository}{tag}{digest}"


@dataclass(frozen=True)
class Manifest:
    media_type: str
    body: bytes  # exactly as served or to be pushed: its sha256 is its digest
    digest: str  # "sha256:..."

    @classmethod
    def from_body(cls, media_type: str, body: bytes) -> Manifest:
        return cls(media_type=media_type, body=body, digest=f"sha256:{hashlib.sha256(body).hexdigest()}")


class Client:
    """One registry, one set of credentials. Bearer tokens are cached per scope for the client's lifetime; an
    expired one is answered by a 401 and replaced once."""

    def __init__(self, registry: str, *, insecure: bool = False, username: str | None = None,
                 password: str | None = None, timeout: float = 60.0) -> None:  # fmt: skip
        """`insecure=True` speaks plain http: only for loopback test registries. Otherwise https, verified
        against the system's CAs. `timeout` is in seconds, per connect and per read."""
        if not _DOMAIN.fullmatch(registry):
            raise ValueError(f"{registry!r} is not a registry host[:port]")
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        host = DOCKER_HUB if registry in _HUB_NAMES else registry
        self.registry = registry
        self._base = f"{'http' if insecure else 'https'}://{host}"
        self._origin = _origin(self._base)
        self._insecure = insecure
        self._basic_auth: str | None = None
        if username is not None and password is not None:
            pair = f"{username}:{password}".encode()
            self._basic_auth = "Basic " + base64.b64encode(pair).decode("ascii")
        self._use_basic = False  # set once the registry has asked for Basic: then sent with every request
        self._tokens: dict[str, str] = {}  # _scope_key(scope of the registry's challenge) -> bearer token
        self._timeout = timeout
        # Responses of every status come back to us (no HTTPError, no redirect following by urllib).
        self._opener = urllib.request.build_opener(
            _KeepResponses(), _HTTPHandler(), _HTTPSHandler(ssl.create_default_context())
        )

    # --- the four operations ---------------------------------------------------------------------------------

    def manifest(self, repository: str, reference: str, platform: str = "linux/amd64") -> Manifest:
        """The image manifest of `reference` (a tag or a digest). An index or manifest list is resolved to its
        entry for `platform` ("os/architecture[/variant]")."""
        _check_repository(repository)
        _check_reference(reference)
        wanted = _parse_platform(platform)
        top = self._get_manifest(repository, reference)
        if top.media_type not in INDEX_TYPES:
            return top
        digest = _pick_platform(top, wanted, f"{repository}:{reference}", platform)
        image = self._get_manifest(repository, digest)
        if image.media_type not in IMAGE_TYPES:
            raise RegistryError(f"{repository}@{digest}: the {platform} entry of an index is a {image.media_type}, "
                                "not an image manifest")  # fmt: skip
        return image

    def blob(self, repository: str, digest: str, out: BinaryIO, max_bytes: int) -> int:
        """Stream blob `digest` into `out` and return the bytes written. On RegistryError `out` holds a partial
        or unverified blob: the caller discards it."""
        _check_repository(repository)
        _check_digest(digest)
        path = f"/v2/{repository}/blobs/{digest}"
        hasher = hashlib.new(digest.partition(":")[0])
        written = 0
        with self._request("GET", path, scope=_pull(repository)) as response:
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise RegistryError(f"blob {digest} is {length} bytes, more than the limit of {max_bytes}")
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as error:  # not around out.write: a full disk is ours
                    raise RegistryError(f"GET {path}: interrupted after {written} bytes: {error}") from None
                if not chunk:
                    break
                if written + len(chunk) > max_bytes:
                    raise RegistryError(f"blob {digest} is more than the limit of {max_bytes} bytes")
                hasher.update(chunk)
                out.write(chunk)
                written += len(chunk)
        actual = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
        if actual != digest:
            raise RegistryError(f"blob {digest} does not match its digest: its {written} bytes hash to {actual}")
        return written

    def push_blob(self, repository: str, data: BinaryIO, digest: str, size: int) -> None:
        """Upload `size` bytes read from `data` as blob `digest` (monolithic upload), unless the registry has it.
        The registry verifies the digest and refuses a mismatch (DIGEST_INVALID)."""
        _check_repository(repository)
        _check_digest(digest)
        path = f"/v2/{repository}/blobs/{digest}"
        with self._request("HEAD", path, scope=_pull(repository), ok=(200, 404)) as head:
            if head.status == 200:
                return
        uploads = f"/v2/{repository}/blobs/uploads/"
        headers = {"Content-Length": "0"}
        with self._request("POST", uploads, scope=_push(repository), headers=headers, body=b"", ok=(202,)) as start:
            location = start.headers.get("Location")
        if not location:
            raise RegistryError(f"POST {uploads}: the registry gave no upload Location")
        # The Location may be relative or absolute and may carry the upload's state in its query string.
        url = _add_query(urllib.parse.urljoin(self._base + uploads, location), "digest", digest)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        with self._request("PUT", url, scope=_push(repository), headers=headers, body=_Body(data, size), ok=(201,)):
            pass

    def push_manifest(self, repository: str, tag: str, manifest: Manifest) -> str:
        """Store `manifest` under `tag` (or under its digest, when `tag` is one) and return its digest. The
        registry checks that every blob and manifest it references is already there."""
        _check_repository(repository)
        _check_reference(tag)
        if not _digest_matches(manifest.body, manifest.digest):
            raise ValueError(f"manifest digest {manifest.digest} is not the sha256 of its body")
        if _DIGEST.fullmatch(tag) and tag != manifest.digest:
            raise ValueError(f"cannot push manifest {manifest.digest} under another digest {tag}")
        path = f"/v2/{repository}/manifests/{tag}"
        headers = {"Content-Type": manifest.media_type}
        with self._request("PUT", path, scope=_push(repository), headers=headers, body=manifest.body, ok=(201,)) as r:
            served = r.headers.get("Docker-Content-Digest")
        if served and served != manifest.digest:
            raise RegistryError(f"PUT {path}: the registry stored digest {served}, not {manifest.digest}")
        return manifest.digest

    # --- manifests -----------------------------------------------------------------------------------------

    def _get_manifest(self, repository: str, reference: str) -> Manifest:
        path = f"/v2/{repository}/manifests/{reference}"
        with self._request("GET", path, scope=_pull(repository), headers={"Accept": _ACCEPT}) as response:
            body = _read_capped(response, MAX_MANIFEST_BYTES, f"GET {path}: manifest")
            content_type = response.headers.get("Content-Type", "").partition(";")[0].strip().lower()
            served_digest = response.headers.get("Docker-Content-Digest")
        for expected in (reference, served_digest):
            if expected and _DIGEST.fullmatch(expected) and not _digest_matches(body, expected):
                raise RegistryError(f"GET {path}: the manifest received does not match digest {expected}")
        try:
            document = json.loads(body)
        except ValueError:
            raise RegistryError(f"GET {path}: the manifest is not JSON") from None
        if not isinstance(document, dict):
            raise RegistryError(f"GET {path}: the manifest is not a JSON object")
        declared = document.get("mediaType")
        media_type = declared if isinstance(declared, str) and declared else content_type
        if document.get("schemaVersion") == 1 or media_type in _SCHEMA1_TYPES:
            raise RegistryError(f"GET {path}: Docker schema 1 manifests are not supported (deprecated, their layers "
                                "are unverifiable); push the image again with a current client")  # fmt: skip
        if media_type not in INDEX_TYPES | IMAGE_TYPES:
            # OCI makes mediaType optional in the body; some registries answer application/json.
            if isinstance(document.get("manifests"), list):
                media_type = OCI_INDEX
            elif isinstance(document.get("layers"), list):
                media_type = OCI_MANIFEST
            else:
                raise RegistryError(f"GET {path}: unsupported manifest type {media_type or 'unknown'!r}")
        return Manifest.from_body(media_type, body)

    # --- HTTP, authentication and redirects ---------------------------------------------------------------------

    def _request(self, method: str, path_or_url: str, *, scope: str, headers: Mapping[str, str] | None = None,
                 body: bytes | _Body | None = None,
                 ok: tuple[int, ...] = (200,)) -> http.client.HTTPResponse:  # fmt: skip
        """Send a request to the registry, authenticating as its 401 challenge asks (once), and return the open
        response when its status is in `ok`; any other status raises RegistryError."""
        url = path_or_url if "://" in path_or_url else self._base + path_or_url
        response = self._send(method, url, headers or {}, body, self._auth_for(scope))
        if response.status == 401:
            challenges = _parse_challenges(", ".join(response.headers.get_all("WWW-Authenticate") or []))
            try:
                auth = self._answer(challenges)
            except RegistryError:
                response.close()
                raise
            if auth is None:
                raise self._error(method, url, response)
            response.close()
            if isinstance(body, _Body):
                body.rewind()
            response = self._send(method, url, headers or {}, body, auth)
        if response.status not in ok:
            raise self._error(method, url, response)
        return response

    def _auth_for(self, scope: str) -> str | None:
        if self._use_basic:
            return self._basic_auth
        token = self._tokens.get(_scope_key(scope))
        return f"Bearer {token}" if token else None

    def _answer(self, challenges: list[tuple[str, dict[str, str]]]) -> str | None:
        """The Authorization header that answers a 401's challenges, or None when we cannot."""
        for scheme, params in challenges:
            if scheme == "bearer":
                token = self._tokens[_scope_key(params.get("scope", ""))] = self._fetch_token(params)
                return f"Bearer {token}"
        for scheme, _ in challenges:
            if scheme == "basic" and self._basic_auth:
                self._use_basic = True
                return self._basic_auth
        return None

    def _fetch_token(self, challenge: Mapping[str, str]) -> str:
        """https://distribution.github.io/distribution/spec/auth/token/: GET the realm with the service and each
        scope the registry asked for, with our credentials when we have some (anonymous tokens otherwise)."""
        parts = urllib.parse.urlsplit(challenge.get("realm", ""))
        if parts.scheme not in ("https", "http") or not parts.hostname or _origin(parts.geturl())[2] == -1:
            raise RegistryError(f"the registry's bearer challenge names no usable token realm ({parts.scheme!r})")
        if parts.scheme == "http" and not self._insecure:
            raise RegistryError(f"refusing to ask token realm {parts.hostname}{parts.path} over plain http")
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if challenge.get("service"):
            query.append(("service", challenge["service"]))
        query.extend(("scope", scope) for scope in challenge.get("scope", "").split())
        url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query), fragment=""))
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})  # noqa: S310 (scheme checked)
        if self._basic_auth:
            request.add_header("Authorization", self._basic_auth)
        what = f"GET {parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path} (token)"
        response = self._open(request, what)
        with response:
            if response.status != 200:
                raise RegistryError(f"{what}: HTTP {response.status} {_one_line(response.reason)}")
            body = _read_capped(response, _MAX_SMALL_BODY, f"{what}: answer")
        try:
            answer = json.loads(body)
        except ValueError:
            raise RegistryError(f"{what}: the answer is not JSON") from None
        token = (answer.get("token") or answer.get("access_token")) if isinstance(answer, dict) else None
        # The token becomes a header value: anything but visible ASCII could split the header.
        if not isinstance(token, str) or not re.fullmatch(r"[\x21-\x7e]+", token):
            raise RegistryError(f"{what}: the answer holds no usable token")
        return token

    def _send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | _Body | None,
              auth: str | None) -> http.client.HTTPResponse:  # fmt: skip
        """One request, following the redirects of GET and HEAD; `auth` goes only to the registry's origin."""
        for _ in range(_MAX_REDIRECTS + 1):
            request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (scheme checked)
            request.add_header("User-Agent", _USER_AGENT)
            for name, value in headers.items():
                request.add_header(name, value)
            if auth and _origin(url) == self._origin:
                request.add_header("Authorization", auth)
            response = self._open(request, f"{method} {self._describe(url)}")
            if response.status not in _REDIRECTS or method not in ("GET", "HEAD"):
                return response
            location = response.headers.get("Location", "")
            response.close()
            target = urllib.parse.urljoin(url, location)
            scheme = urllib.parse.urlsplit(target).scheme
            if not location or scheme not in ("http", "https"):
                raise RegistryError(f"{method} {self._describe(url)}: redirect to an unusable location")
            if scheme == "http" and url.startswith("https:") and not self._insecure:
                raise RegistryError(f"{method} {self._describe(url)}: refusing a redirect from https to http")
            url = target
        raise RegistryError(f"{method} {self._describe(url)}: more than {_MAX_REDIRECTS} redirects")

    def _open(self, request: urllib.request.Request, what: str) -> http.client.HTTPResponse:
        try:
            response: http.client.HTTPResponse = self._opener.open(request, timeout=self._timeout)
        except (OSError, http.client.HTTPException) as error:  # URLError is an OSError
            reason = error.reason if isinstance(error, urllib.error.URLError) else error
            raise RegistryError(f"{what}: {_one_line(str(reason))}") from None
        return response

    def _error(self, method: str, url: str, response: http.client.HTTPResponse) -> RegistryError:
        """The RegistryError for an unexpected status, with the registry's error codes from its JSON body."""
        with response:
            try:
                body = _read_capped(response, _MAX_SMALL_BODY, "error body")
            except RegistryError:
                body = b""
        details = []
        try:
            errors = json.loads(body).get("errors")
        except (ValueError, AttributeError):
            errors = None
        for entry in errors if isinstance(errors, list) else []:
            if isinstance(entry, dict):
                code, message = entry.get("code"), entry.get("message")
                details.append(f"{code}: {message}" if message else str(code))
        detail = f" ({_one_line('; '.join(details))})" if details else ""
        status = f"HTTP {response.status} {_one_line(response.reason)}".rstrip()
        return RegistryError(f"{method} {self._describe(url)}: {status}{detail}")

    def _describe(self, url: str) -> str:
        """The URL for a message: its path (and its host when it is not the registry), never its query string,
        which may hold an upload's state or a storage signature."""
        parts = urllib.parse.urlsplit(url)
        if _origin(url) == self._origin:
            return parts.path
        return f"{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


class _KeepResponses(urllib.request.HTTPErrorProcessor):
    """Hand every response back as it is: 401s, 404s and redirects are handled by Client, not by urllib (whose
    redirect handler would forward our Authorization header to any host)."""

    def http_response(self, request: urllib.request.Request,
                      response: http.client.HTTPResponse) -> http.client.HTTPResponse:  # fmt: skip
        return response

    https_response = http_response


class _HTTPConnection(http.client.HTTPConnection):
    """A server may answer before it has read the body (a 401 for an expired token) and close the connection:
    stop sending and read that answer, as curl does, so that the request can be authenticated and sent again,
    instead of failing with a broken pipe. A server that closed without answering still fails in getresponse()."""

    _peer_closed = False

    def send(self, data: Any) -> None:
        if not self._peer_closed:
            self._peer_closed = _closed_while_sending(super().send, data)


class _HTTPSConnection(http.client.HTTPSConnection):
    _peer_closed = False

    def send(self, data: Any) -> None:
        if not self._peer_closed:
            self._peer_closed = _closed_while_sending(super().send, data)


def _closed_while_sending(send: Callable[[Any], None], data: Any) -> bool:
    try:
        send(data)
    except (BrokenPipeError, ConnectionResetError):
        return True
    return False


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._registry_context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSConnection, req, context=self._registry_context)


class _Body:
    """At most `size` bytes of `data` as a request body that can be sent again after a 401 (by seeking back)."""

    def __init__(self, data: BinaryIO, size: int) -> None:
        self._data = data
        self._size = size
        self._start = data.tell() if data.seekable() else None
        self.sent = 0

    def read(self, n: int = -1) -> bytes:
        left = self._size - self.sent
        chunk = self._data.read(left if n < 0 else min(n, left)) if left > 0 else b""
        if left > 0 and not chunk:
            # Sending less than the Content-Length would leave the registry waiting for the rest until timeout.
            raise RegistryError(f"the blob's data ended after {self.sent} of {self._size} bytes")
        self.sent += len(chunk)
        return chunk

    def rewind(self) -> None:
        if self.sent == 0:
            return
        if self._start is None:
            raise RegistryError("cannot send the blob again after an authentication challenge: data is not seekable")
        self._data.seek(self._start)
        self.sent = 0


def _parse_challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """WWW-Authenticate (RFC 9110 section 11.6.1): `Scheme k=v, k="quoted, \\"value\\"", Scheme2 ...` ->
    [(scheme lower-cased, {param lower-cased: value})]. Lenient: what it cannot read, it skips."""
    challenges: list[tuple[str, dict[str, str]]] = []
    token = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
    quoted = re.compile(r'"((?:[^"\\]|\\.)*)"?', re.S)
    pos, end = 0, len(header)
    while pos < end:
        if header[pos] in " \t,":
            pos += 1
            continue
        match = token.match(header, pos)
        if not match:
            pos += 1
            continue
        name, pos = match.group(), match.end()
        after = pos
        while after < end and header[after] in " \t":
            after += 1
        if after < end and header[after] == "=" and challenges:
            pos = after + 1
            while pos < end and header[pos] in " \t":
                pos += 1
            value = ""
            if header.startswith('"', pos):
                quoted_match = quoted.match(header, pos)
                assert quoted_match is not None  # the pattern matches any text that starts with a quote
                value, pos = re.sub(r"\\(.)", r"\1", quoted_match.group(1), flags=re.S), quoted_match.end()
            elif token_match := token.match(header, pos):
                value, pos = token_match.group(), token_match.end()
            challenges[-1][1][name.lower()] = value
        else:
            challenges.append((name.lower(), {}))
    return challenges


def _pick_platform(index: Manifest, wanted: tuple[str, str, str | None], name: str, platform: str) -> str:
    document = json.loads(index.body)
    entries = document.get("manifests")
    seen = []
    for entry in entries if isinstance(entries, list) else []:
        described = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(described, dict):
            continue
        found = (described.get("os"), described.get("architecture"), described.get("variant"))
        seen.append("/".join(str(part) for part in found if part))
        if found[:2] == wanted[:2] and (wanted[2] is None or found[2] == wanted[2]):
            digest = entry.get("digest")
            if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
                raise RegistryError(f"{name}: the index entry for {platform} has no valid digest")
            return digest
    raise RegistryError(f"{name}: no manifest for platform {platform} (the index has {', '.join(seen) or 'none'})")


def _parse_platform(platform: str) -> tuple[str, str, str | None]:
    parts = platform.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform {platform!r} is not os/architecture[/variant]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _read_capped(response: http.client.HTTPResponse, limit: int, what: str) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise RegistryError(f"{what} is {length} bytes, more than the limit of {limit}")
    chunks, total = [], 0
    try:
        while total <= limit and (chunk := response.read(limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
    except (OSError, http.client.HTTPException) as error:
        raise RegistryError(f"{what}: interrupted: {_one_line(str(error))}") from None
    if total > limit:
        raise RegistryError(f"{what} is more than the limit of {limit} bytes")
    return b"".join(chunks)


def _digest_matches(data: bytes, digest: str) -> bool:
    algorithm, _, expected = digest.partition(":")
    return algorithm in ("sha256", "sha512") and hashlib.new(algorithm, data).hexdigest() == expected


def _add_query(url: str, name: str, value: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + [(name, value)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is not a number: an origin that matches nothing
        port = -1
    return parts.scheme, (parts.hostname or "").lower(), port


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _scope_key(scope: str) -> str:
    """One cache key per set of scopes: registries list a scope's actions in any order (distribution 2.8 sends
    "pull,push" or "push,pull", as Go's map iteration falls)."""
    items = []
    for item in scope.split():
        resource, colon, actions = item.rpartition(":")
        items.append(f"{resource}:{','.join(sorted(set(actions.split(','))))}" if colon else item)
    return " ".join(sorted(items))


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _push(repository: str) -> str:
    return f"repository:{repository}:pull,push"


def _check_repository(repository: str) -> None:
    # It becomes a URL path: the grammar also keeps "..", "%" and "?" out of it.
    if not _REPOSITORY.fullmatch(repository) or len(repository) > _MAX_NAME:
        raise ValueError(f"{repository!r} is not a repository name")


def _check_reference(reference: str) -> None:
    if not (_TAG.fullmatch(reference) or _DIGEST.fullmatch(reference)):
        raise ValueError(f"{reference!r} is neither a tag nor a sha256/sha512 digest")


def _check_digest(digest: str) -> None:
    if not _DIGEST.fullmatch(digest):
        raise ValueError(f"{digest!r} is not a sha256 or sha512 digest")
