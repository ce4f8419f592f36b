"""The sandbox launcher: confine this process, then ``execvp`` the command.

Run as a script (``python sandbox_exec.py --write DIR --read DIR -- cmd ...``),
never imported by the parent for its side effects: Landlock and namespaces
must be applied in the child between fork and exec, and a ``preexec_fn`` is
unsafe in a threaded parent (the agent streams from threads). It imports only
the standard library, so it starts fast and needs no ``redline`` on the path.

Layers, each applied where the kernel allows and reported with ``--probe``:

- Landlock (ctypes over syscalls 444-446): reads only below ``--read`` paths,
  writes only below ``--write`` paths. A Landlock domain also stops ``ptrace``
  towards any process outside it; ABI >= 6 adds signal and abstract-unix-socket
  scoping.
- Namespaces (``unshare``, with ``CLONE_NEWUSER`` for an unprivileged user):
  a PID namespace with its own ``/proc``, so no process outside the sandbox can
  even be named (measured on Linux 6.18: Landlock's ptrace scoping denies
  ``/proc/<pid>/mem`` and ``cwd`` of the parent but not ``environ``); and a
  network namespace with only loopback. Where namespaces are refused, ``/proc``
  is left unreadable and Landlock ABI >= 4 denies TCP bind and connect.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
import socket
import stat
import struct
import sys

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # x86_64 and aarch64
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 38, 1
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
MAKE_SYM, REFER, TRUNCATE = 1 << 12, 1 << 13, 1 << 14
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

READ = EXECUTE | READ_FILE | READ_DIR
WRITE = WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_CHAR | MAKE_DIR | MAKE_REG | MAKE_SOCK
WRITE |= MAKE_FIFO | MAKE_BLOCK | MAKE_SYM | REFER | TRUNCATE
FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE  # rights a rule on a file may hold
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or disabled."""
    if not sys.platform.startswith("linux"):
        return 0
    abi = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), CREATE_RULESET_VERSION)
    return max(0, int(abi))


def _handled_fs(abi: int) -> int:
    mask = READ | WRITE
    if abi < 2:
        mask &= ~REFER
    if abi < 3:
        mask &= ~TRUNCATE
    return mask


def apply_landlock(reads: list[str], writes: list[str], *, deny_tcp: bool) -> int:
    """Restrict this process (and what it execs) to the given trees; returns the ABI used."""
    abi = landlock_abi()
    if abi < 1:
        raise OSError(0, "this kernel has no Landlock")
    handled = _handled_fs(abi)
    attr = _RulesetAttr(handled, 0, 0)
    size = 8  # ABI 1-3 know only handled_access_fs
    if abi >= 4:
        attr.handled_access_net = (NET_BIND_TCP | NET_CONNECT_TCP) if deny_tcp else 0
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    fd = _check(
        _libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0),
        "landlock_create_ruleset",
    )
    try:
        for path in reads:
            _add_rule(fd, path, READ & handled)
        for path in writes:
            _add_rule(fd, path, (READ | WRITE) & handled)
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        _check(_libc.syscall(SYS_RESTRICT_SELF, fd, 0), "landlock_restrict_self")
    finally:
        os.close(fd)
    return abi


def _add_rule(ruleset_fd: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path this machine lacks grants nothing
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= FILE_ONLY
        rule = _PathBeneath(access, fd)
        _check(
            _libc.syscall(SYS_ADD_RULE, ruleset_fd, RULE_PATH_BENEATH, ctypes.byref(rule), 0),
            f"landlock_add_rule({path})",
        )
    finally:
        os.close(fd)


def enter_namespaces(network: bool) -> dict[str, object]:
    """New PID and mount namespaces with a fresh ``/proc`` (the parent's processes,
    and their ``environ``, are simply not there), plus a network namespace unless
    ``network``. Forks: the caller continues as PID 1 of the new namespace, while
    this process waits for it and exits with its status. Raises OSError when the
    kernel or the user may not create namespaces."""
    flags = CLONE_NEWNS | CLONE_NEWPID | (0 if network else CLONE_NEWNET)
    uid, gid = os.getuid(), os.getgid()
    try:
        _unshare(flags)
        how = "namespaces"
    except OSError:
        _unshare(flags | CLONE_NEWUSER)  # unprivileged: map ourselves first
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
        how = "userns"
    child = os.fork()
    if child:
        _wait_and_exit(child)
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount(private)")
    _check(
        _libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
        "mount(/proc)",
    )
    report: dict[str, object] = {"pid_ns": how, "network": "allowed"}
    if not network:
        _loopback_up()
        report["network"] = "netns"
    return report


def _wait_and_exit(child: int) -> None:
    """The launcher's last job: pass signals on, then exit as the command did."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: os.kill(child, signum))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


def _unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")  # os.unshare is Python 3.12+


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _loopback_up() -> None:
    """Bring ``lo`` up so local test servers can still bind 127.0.0.1."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, siocgifflags, ifreq))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def confine(
    reads: list[str], writes: list[str], network: bool, namespaces: bool = True
) -> dict[str, object]:
    """Apply every layer this kernel allows; the report says what applied."""
    try:
        if not namespaces:
            raise OSError(0, "namespaces not requested")
        report = enter_namespaces(network)
    except OSError as exc:
        # No namespaces: /proc stays the host's, so it is not readable at all
        # (Landlock's ptrace scoping alone does not cover /proc/<pid>/environ on
        # every kernel), and Landlock denies TCP where it can.
        report = {"pid_ns": None, "namespace_error": str(exc), "network": "allowed"}
        reads = [r for r in reads if r.rstrip("/") != "/proc"]
    deny_tcp = not network and report["network"] == "allowed"
    report["landlock_abi"] = apply_landlock(reads, writes, deny_tcp=deny_tcp)
    if deny_tcp:
        report["network"] = "landlock-tcp" if int(report["landlock_abi"]) >= 4 else "open"
    return report


def main(argv: list[str]) -> int:
    reads: list[str] = []
    writes: list[str] = []
    network = probe = False
    namespaces = True
    while argv and argv[0] != "--":
        flag = argv.pop(0)
        if flag in ("--read", "--write"):
            (reads if flag == "--read" else writes).append(argv.pop(0))
        elif flag == "--network":
            network = True
        elif flag == "--no-namespaces":
            namespaces = False
        elif flag == "--probe":
            probe = True
        else:
            sys.stderr.write(f"sandbox: unknown option {flag}\n")
            return 126
    command = argv[1:]
    try:
        report = confine(reads, [*writes, *DEVICES], network, namespaces)
    except OSError as exc:
        # Never run a command unconfined that was meant to be confined.
        sys.stderr.write(f"sandbox: could not confine the command: {exc}\n")
        return 126
    if probe:
        sys.stdout.write(json.dumps(report) + "\n")
        return 0
    if not command:
        return 0
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        sys.stderr.write(f"sandbox: cannot run {command[0]}: {exc.strerror}\n")
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
