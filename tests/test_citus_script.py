"""scripts/citus.py without a cluster: the compile fix, the pinned build packages and the
refused install that would replace the running server, the cheap
"already installed" check, the source lookup and what `check` says when it cannot build."""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "citus.py"

COMPAT_HEADER = """\
#if PG_VERSION_NUM >= PG_VERSION_16
#define have_createdb_privilege() have_createdb_privilege()
#else
static inline void
something_else(void)
{
}


static inline bool
have_createdb_privilege(void)
{
\tbool result = false;
\tif (superuser())
\t{
\t\treturn true;
\t}
\treturn result;
}


typedef bool TU_UpdateIndexes;
#endif
"""


def load_citus():
    spec = importlib.util.spec_from_file_location("handoff_citus", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


citus = load_citus()


def source_tree(tmp_path: Path) -> Path:
    compat = tmp_path / "src" / "src" / "include" / "pg_version_compat.h"
    compat.parent.mkdir(parents=True)
    compat.write_text(COMPAT_HEADER)
    return tmp_path / "src"


def server_headers(tmp_path: Path, *, declares: bool) -> Path:
    header = tmp_path / "server" / "commands" / "dbcommands.h"
    header.parent.mkdir(parents=True)
    header.write_text(
        "extern bool have_createdb_privilege(void);\n" if declares else "/* none */\n"
    )
    return tmp_path / "server"


def test_the_static_copy_goes_when_the_server_headers_declare_the_function(tmp_path):
    source = source_tree(tmp_path)
    citus.patch_for_server_headers(source, server_headers(tmp_path, declares=True))
    patched = (source / "src" / "include" / "pg_version_compat.h").read_text()

    assert "static inline bool\nhave_createdb_privilege" not in patched
    # Everything around it stays: the PG16 macro, the other helper, the typedef.
    assert "#define have_createdb_privilege() have_createdb_privilege()" in patched
    assert "something_else(void)" in patched
    assert "typedef bool TU_UpdateIndexes;" in patched


def test_the_static_copy_stays_for_headers_without_the_function(tmp_path):
    source = source_tree(tmp_path)
    citus.patch_for_server_headers(source, server_headers(tmp_path, declares=False))

    assert (source / "src" / "include" / "pg_version_compat.h").read_text() == COMPAT_HEADER


def test_server_headers_are_pinned_to_the_running_servers_version(monkeypatch):
    installed = {"postgresql-15": "15.18-0+deb12u1", "liblz4-dev": "1.9.4-1"}
    monkeypatch.setattr(citus.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(citus, "dpkg_version", installed.get)

    missing = citus.missing_build_packages("15")

    # An unpinned server-dev would upgrade postgresql-15 under the running servers.
    assert missing == ["postgresql-server-dev-15=15.18-0+deb12u1", "libzstd-dev", "libkrb5-dev"]


def test_server_headers_of_another_version_are_replaced_by_the_servers(monkeypatch):
    installed = {
        "postgresql-15": "15.18-0+deb12u1",
        "postgresql-server-dev-15": "15.20-0+deb12u1",
        "liblz4-dev": "x",
        "libzstd-dev": "x",
        "libkrb5-dev": "x",
    }
    monkeypatch.setattr(citus.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(citus, "dpkg_version", installed.get)

    assert citus.missing_build_packages("15") == ["postgresql-server-dev-15=15.18-0+deb12u1"]


def test_the_installed_check_compares_the_recorded_file(tmp_path, monkeypatch):
    pkglibdir = tmp_path / "lib"
    pkglibdir.mkdir()
    library = pkglibdir / "citus.so"
    library.write_bytes(b"\x7fELF built")
    monkeypatch.setenv("HANDOFF_CITUS_CACHE", str(tmp_path / "cache"))
    answers = {"pkglibdir": str(pkglibdir), "version": "PostgreSQL 15.18 (Debian 15.18-0+deb12u1)"}
    monkeypatch.setattr(citus, "pg_config_value", lambda _pg_config, flag: answers[flag])
    record = tmp_path / "cache" / "citus-abc" / "pg15.18" / "installed.json"
    record.parent.mkdir(parents=True)
    stat = library.stat()
    record.write_text(
        json.dumps({"path": str(library), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    )

    assert citus.quick_installed(Path("pg_config"), "abc")
    assert not citus.quick_installed(Path("pg_config"), "another-archive")
    library.write_bytes(b"\x7fELF something else, installed by hand")
    assert not citus.quick_installed(Path("pg_config"), "abc")


def test_the_archive_is_found_beside_the_clone_or_named(tmp_path, monkeypatch):
    monkeypatch.delenv("HANDOFF_CITUS_SOURCE", raising=False)
    vendor = tmp_path / "shared" / "vendor"
    vendor.mkdir(parents=True)
    (vendor / "citus-13.2.2.tar.gz").write_bytes(b"archive")
    monkeypatch.setattr(citus, "REPO", tmp_path / "wt" / "clone")

    assert citus.source_archive() == vendor / "citus-13.2.2.tar.gz"

    monkeypatch.setenv("HANDOFF_CITUS_SOURCE", str(tmp_path / "missing.tar.gz"))
    with pytest.raises(citus.Fail, match="is not a file"):
        citus.source_archive()


def test_check_says_why_it_cannot_build():
    env = {**os.environ, "HANDOFF_CITUS_SOURCE": "/nonexistent/citus.tar.gz"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "check"], capture_output=True, text=True, env=env, check=False
    )

    assert done.returncode == 3
    assert "HANDOFF_CITUS_SOURCE=/nonexistent/citus.tar.gz is not a file" in done.stdout


def test_the_default_ports_lie_below_the_ephemeral_range(monkeypatch):
    monkeypatch.delenv("HANDOFF_CITUS_PORT", raising=False)

    ports = [citus.node_port(n) for n in ("coordinator", "worker1", "worker2", "worker3")]

    assert ports == [25480, 25481, 25482, 25483]
    # Linux's default ip_local_port_range starts at 32768 (and any outgoing connection may
    # take a port of it); a worker's port must not be one of them.
    assert max(ports) < 32768


def test_node_ports_follow_the_coordinators(monkeypatch):
    monkeypatch.setenv("HANDOFF_CITUS_PORT", "56000")

    assert [citus.node_port(n) for n in ("coordinator", "worker1", "worker2", "worker3")] == [
        56000,
        56001,
        56002,
        56003,
    ]


# `apt-get --simulate install postgresql-server-dev-15=15.20-0+deb12u1` next to a 15.18 server.
UPGRADING_PLAN = """\
Inst libpq-dev [15.18-0+deb12u1] (15.20-0+deb12u1 Debian-Security:12/oldstable-security [amd64]) []
Inst libpq5 [15.18-0+deb12u1] (15.20-0+deb12u1 Debian-Security:12/oldstable-security [amd64])
Inst postgresql-client-15 [15.18-0+deb12u1] (15.20-0+deb12u1 Debian-Security:12/oldstable-security [amd64])
Inst postgresql-15 [15.18-0+deb12u1] (15.20-0+deb12u1 Debian-Security:12/oldstable-security [amd64])
Inst postgresql-server-dev-15 [15.18-0+deb12u1] (15.20-0+deb12u1 Debian-Security:12/oldstable-security [amd64])
Conf postgresql-15 (15.20-0+deb12u1 Debian-Security:12/oldstable-security [amd64])
"""


def test_a_plan_that_replaces_the_running_server_is_caught():
    touched = citus.server_packages_touched(UPGRADING_PLAN, "15")

    assert touched == [
        "Inst postgresql-15 [15.18-0+deb12u1] (15.20-0+deb12u1 "
        "Debian-Security:12/oldstable-security [amd64])"
    ]


def test_a_plan_that_leaves_the_server_alone_passes():
    plan = (
        "Inst postgresql-server-dev-15 (15.18-0+deb12u1 Debian:12.8/stable [amd64])\n"
        "Inst libzstd-dev (1.5.4+dfsg2-5 Debian:12.8/stable [amd64])\n"
        # A server package installed where there was none replaces nothing that runs.
        "Inst postgresql-16 (16.6-1 Debian:12.8/stable [amd64])\n"
        "Remv postgresql-client-15 [15.18-0+deb12u1]\n"
    )

    assert citus.server_packages_touched(plan, "15") == []
    assert citus.server_packages_touched("Remv postgresql-15 [15.18-0+deb12u1]\n", "15") == [
        "Remv postgresql-15 [15.18-0+deb12u1]"
    ]


class FakeApt:
    """apt-get as install_build_packages sees it: `plan` answers the simulation; the real
    install (services.subprocess.run) is only recorded."""

    def __init__(self, plan: str):
        self.plan = plan
        self.simulated: list[list[str]] = []
        self.installed: list[list[str]] = []

    def run(self, cmd, **_kwargs):
        assert "--simulate" in cmd, cmd
        self.simulated.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout=self.plan)

    def install(self, cmd, **_kwargs):
        self.installed.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)


@pytest.fixture
def as_root_with(monkeypatch):
    def setup(plan: str) -> FakeApt:
        apt = FakeApt(plan)
        monkeypatch.setattr(citus.os, "geteuid", lambda: 0)
        monkeypatch.setattr(citus.shutil, "which", lambda name: f"/usr/bin/{name}")
        monkeypatch.setattr(
            citus,
            "missing_build_packages",
            lambda _major: ["postgresql-server-dev-15=15.18-0+deb12u1"],
        )
        monkeypatch.setattr(citus.services, "run", apt.run)
        monkeypatch.setattr(citus.services.subprocess, "run", apt.install)
        return apt

    return setup


def test_the_install_is_refused_when_its_simulation_would_replace_the_server(as_root_with):
    apt = as_root_with(UPGRADING_PLAN)

    with pytest.raises(citus.Fail, match=r"would also change Inst postgresql-15 \[15\.18"):
        citus.install_build_packages("15")

    # Simulated once (the plan answered), never installed.
    assert apt.simulated == [
        [
            "apt-get",
            "install",
            "--simulate",
            "-y",
            "-qq",
            "--no-upgrade",
            "postgresql-server-dev-15=15.18-0+deb12u1",
        ]
    ]
    assert apt.installed == []


def test_the_install_runs_when_its_simulation_leaves_the_server_alone(as_root_with):
    apt = as_root_with(
        "Inst postgresql-server-dev-15 (15.18-0+deb12u1 Debian:12.8/stable [amd64])\n"
    )

    citus.install_build_packages("15")

    assert apt.installed == [
        [
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-upgrade",
            "postgresql-server-dev-15=15.18-0+deb12u1",
        ]
    ]


def test_the_export_lines_name_the_app_role_and_the_owner():
    lines = citus.export_lines(25480, "test_x")

    assert lines == (
        "export DATABASE_URL=postgres://handoff_app@127.0.0.1:25480/test_x\n"
        "export DATABASE_OWNER_URL=postgres://handoff_owner@127.0.0.1:25480/test_x\n"
    )


def test_a_node_made_on_the_old_port_follows_the_setting(tmp_path, monkeypatch):
    monkeypatch.delenv("HANDOFF_CITUS_PORT", raising=False)
    pgdata = tmp_path / "postgres"
    pgdata.mkdir()
    # worker2 as an earlier scripts/citus.py left it, with the old default (55480).
    (pgdata / "handoff.conf").write_text(citus.NODE_CONF.format(host="127.0.0.1", port=55482))
    port = citus.node_port("worker2")

    previous = citus.write_node_conf(pgdata, port)
    argv = citus.pg_ctl_start(Path("/usr/lib/postgresql/15/bin"), pgdata, tmp_path / "log", port)

    assert (previous, port) == (55482, 25482)
    assert citus.configured_port(pgdata) == 25482
    conf = (pgdata / "handoff.conf").read_text()
    assert "port = 25482\n" in conf and "55482" not in conf
    # The command line names the port too, so no other config file can keep the old one.
    assert argv[-3:] == ["-o", "-p 25482", "start"]
    # Started again with the same setting, nothing moves.
    assert citus.write_node_conf(pgdata, port) is None
    # A node that never ran (no config yet) moves from nowhere.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert citus.configured_port(fresh) is None
    assert citus.write_node_conf(fresh, 25481) is None
    assert citus.configured_port(fresh) == 25481


def test_moved_workers_are_found_by_their_group():
    # The coordinator registered worker1 (group 1) and worker2 (group 2) on the old ports;
    # both now listen on the new ones, worker3 (group 3) was added on its current port.
    registered = [(1, 2, 55481), (2, 3, 55482), (3, 7, 25483)]
    local_groups = {25481: 1, 25482: 2, 25483: 3}

    assert citus.moved_registrations(registered, local_groups) == [(2, 25481), (3, 25482)]
    # A worker that has not joined this database yet (group 0) or did not answer moves nothing.
    assert citus.moved_registrations(registered, {25481: 0}) == []
    assert citus.moved_registrations(registered, {}) == []


def test_a_taken_port_is_named_with_the_setting_that_moves_it(monkeypatch):
    monkeypatch.delenv("HANDOFF_CITUS_PORT", raising=False)

    message = citus.busy_port_message({"worker2": 55482}, (32768, 60999))

    assert message.startswith("port 55482 (the worker2's) on 127.0.0.1 in use by another program")
    assert "HANDOFF_CITUS_PORT=PORT below 32768" in message
    assert "HANDOFF_CITUS_PORT (now 25480)" in message
    # Outside the ephemeral range the advice leaves the range out.
    assert "ephemeral" not in citus.busy_port_message({"coordinator": 25480}, (32768, 60999))


def test_start_refuses_a_taken_port_before_any_node_starts(tmp_path, monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # worker2's port is the taken one.
        monkeypatch.setenv("HANDOFF_CITUS_PORT", str(port - 2))
        started = []
        monkeypatch.setattr(citus, "ensure_built", dict)
        monkeypatch.setattr(citus, "node_start", lambda data_dir, name: started.append(name))

        with pytest.raises(citus.Fail) as failure:
            citus.cluster_start(tmp_path)

    assert f"port {port} (the worker2's)" in str(failure.value)
    assert "HANDOFF_CITUS_PORT=PORT" in str(failure.value)
    assert started == []


def test_the_ephemeral_range_is_read_from_the_kernel_file(tmp_path):
    ranges = tmp_path / "ip_local_port_range"
    ranges.write_text("32768\t60999\n")

    assert citus.ephemeral_range(ranges) == (32768, 60999)
    assert citus.ephemeral_range(tmp_path / "missing") is None
