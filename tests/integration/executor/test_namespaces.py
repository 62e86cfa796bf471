"""Each namespace, shown from inside a real box on the real kernel."""

from __future__ import annotations

import ctypes
import json
import os

from executor import languages, runner
from executor.config import Config
from executor.result import Status

PROBE = r"""
import json, os, socket
def read(p):
    try:
        with open(p) as f: return f.read()
    except OSError as e: return "ERR " + e.strerror
caps = {l.split(':')[0]: l.split()[1] for l in read('/proc/self/status').splitlines() if l.startswith('Cap')}
print(json.dumps({
    "pid": os.getpid(), "ppid": os.getppid(), "pids": sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
    "hostname": socket.gethostname(), "ifaces": [n for _, n in socket.if_nameindex()],
    "uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(), "groups": os.getgroups(),
    "uid_map": read('/proc/self/uid_map').split(), "gid_map": read('/proc/self/gid_map').split(),
    "cgroup": read('/proc/self/cgroup'), "caps": caps, "sid": os.getsid(0),
    "mounts": [l.split()[4] for l in read('/proc/self/mountinfo').splitlines()],
    "shm": read('/proc/sysvipc/shm').splitlines()[1:], "msg": read('/proc/sysvipc/msg').splitlines()[1:],
    "env": dict(os.environ), "fds": sorted(os.listdir('/proc/self/fd')), "root": sorted(os.listdir('/')),
    "no_new_privs": [l for l in read('/proc/self/status').splitlines() if l.startswith('NoNewPrivs')],
    "seccomp": [l for l in read('/proc/self/status').splitlines() if l.startswith('Seccomp:')],
}))
"""


def probe(config: Config) -> dict[str, object]:
    outcome = runner.execute(languages.get("python3"), PROBE.encode(), config=config)
    assert outcome.status is Status.OK, outcome.to_json()
    assert outcome.run is not None
    data: dict[str, object] = json.loads(outcome.run.stdout)
    return data


def test_pid_namespace_program_is_alone_under_the_box_init(config: Config) -> None:
    seen = probe(config)
    assert seen["pid"] == 2 and seen["ppid"] == 1  # pid 1 is the box's init, hidden from the program
    assert seen["pids"] == [2]  # /proc shows nothing of the host, nor the init (hidepid)


def test_uts_namespace_has_its_own_hostname(config: Config) -> None:
    assert probe(config)["hostname"] == "sandbox"


def test_network_namespace_has_only_loopback(config: Config) -> None:
    assert probe(config)["ifaces"] == ["lo"]


def test_user_namespace_maps_onto_an_unprivileged_host_range_of_the_slot(config: Config) -> None:
    seen = probe(config)
    assert seen["uid"] == seen["euid"] == seen["gid"] == 1000
    assert seen["groups"] == []
    inside, outside, count = (int(x) for x in seen["uid_map"])  # type: ignore[union-attr]
    assert inside == 0 and count == 65536
    assert (outside - config.id_base) % 65536 == 0 and 0 <= (outside - config.id_base) // 65536 < config.slots
    assert seen["gid_map"] == seen["uid_map"]


def test_no_capabilities_no_new_privs_and_seccomp_filter(config: Config) -> None:
    seen = probe(config)
    assert set(seen["caps"].values()) == {"0000000000000000"}  # type: ignore[union-attr]
    assert seen["no_new_privs"] == ["NoNewPrivs:\t1"]
    assert seen["seccomp"] == ["Seccomp:\t2"]
    assert seen["sid"] == seen["pid"]  # a session of its own


def test_cgroup_namespace_shows_the_box_cgroup_as_root(config: Config) -> None:
    lines = str(probe(config)["cgroup"]).splitlines()
    assert lines and all(line.endswith(":/") for line in lines), lines


def test_mount_namespace_shows_only_the_box_and_leaves_host_mounts_untouched(config: Config) -> None:
    with open("/proc/self/mountinfo") as f:
        before = f.read()
    seen = probe(config)
    with open("/proc/self/mountinfo") as f:
        assert f.read() == before
    mounts = set(seen["mounts"])  # type: ignore[arg-type]
    assert {"/", "/usr", "/box", "/tmp", "/proc", "/dev", "/dev/shm"} <= mounts
    assert not any(m.startswith(("/work", "/root", "/home", "/var", "/run", "/sys", "/srv")) for m in mounts)
    assert "sys" not in seen["root"] and "root" not in seen["root"]  # type: ignore[operator]


def test_ipc_namespace_hides_the_hosts_sysv_objects(config: Config) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    key = 0x5A5A1234
    shmid = libc.shmget(key, 4096, 0o1600)  # IPC_CREAT | 0600
    assert shmid >= 0
    try:
        seen = probe(config)
        assert seen["shm"] == [] and seen["msg"] == []
    finally:
        libc.shmctl(shmid, 0, None)  # IPC_RMID


def test_environment_is_built_from_scratch_and_only_std_fds_are_open(config: Config) -> None:
    os.environ["SECRET_KEY"] = "secret-marker-1"
    leaked = os.open("/etc/hostname", os.O_RDONLY)  # an fd of the worker, not close-on-exec
    try:
        seen = probe(config)
    finally:
        os.close(leaked)
        del os.environ["SECRET_KEY"]
    env = seen["env"]
    assert isinstance(env, dict)
    assert set(env) <= {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "PYTHONDONTWRITEBYTECODE",
                        "PYTHONUNBUFFERED", "LC_CTYPE"}  # fmt: skip
    assert "secret-marker-1" not in json.dumps(seen)
    assert seen["fds"] == ["0", "1", "2", "3"]  # 3 is the directory listing itself


def test_loopback_is_up_inside_the_box(config: Config) -> None:
    source = (
        "import socket\ns = socket.create_server(('127.0.0.1', 0))\n"
        "c = socket.create_connection(s.getsockname())\na, _ = s.accept()\nc.sendall(b'ping')\nprint(a.recv(4))\n"
    )
    outcome = runner.execute(languages.get("python3"), source.encode(), config=config)
    assert outcome.status is Status.OK and outcome.run is not None, outcome.to_json()
    assert outcome.run.stdout == b"b'ping'\n"
