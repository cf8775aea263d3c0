# Raw system-call probes for the hostile battery (hostile_test.go). Run inside a sandbox as
#   python3 hostile_probe.py COMMAND [ARGS...]
# Every attempt prints one line "NAME: RESULT", where RESULT is "ok" (the call succeeded) or
# the errno name it failed with (EPERM, ENOSYS, ...). Nothing here needs a C compiler.
import ctypes
import errno
import os
import socket
import struct
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.ptrace.restype = ctypes.c_long
libc.ioctl.restype = ctypes.c_int


def errname(e):
    return errno.errorcode.get(e, str(e))


def out(name, ok, e=0, extra=""):
    print("%s: %s%s" % (name, "ok" if ok else errname(e), extra), flush=True)


def arg(x):
    if isinstance(x, int):
        return ctypes.c_long(x)
    if isinstance(x, bytes):
        return ctypes.c_char_p(x)
    return x


def sc(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[arg(a) for a in args])
    out(name, r >= 0, ctypes.get_errno())


def buf(n):
    return ctypes.create_string_buffer(n)


AT_FDCWD = -100
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000
SIGCHLD = 17

# x86_64 system call numbers.
SYSCALLS = {
    # mounts and the root
    "mount": lambda: sc("mount", 165, b"none", b"/mnt", b"tmpfs", 0, 0),
    "umount2": lambda: sc("umount2", 166, b"/etc/shadow", 2),  # MNT_DETACH
    "pivot_root": lambda: sc("pivot_root", 155, b"/tmp", b"/tmp"),
    "open_tree": lambda: sc("open_tree", 428, AT_FDCWD, b"/", 1 | 0x8000),  # OPEN_TREE_CLONE|AT_RECURSIVE
    "move_mount": lambda: sc("move_mount", 429, -1, b"", AT_FDCWD, b"/mnt", 4),
    "fsopen": lambda: sc("fsopen", 430, b"tmpfs", 0),
    "fspick": lambda: sc("fspick", 433, AT_FDCWD, b"/usr", 0),
    "fsmount": lambda: sc("fsmount", 432, 3, 0, 0),
    "mount_setattr": lambda: sc("mount_setattr", 442, AT_FDCWD, b"/usr", 0, buf(32), 32),
    # namespaces
    "unshare_user": lambda: sc("unshare_user", 272, CLONE_NEWUSER),
    "unshare_mnt": lambda: sc("unshare_mnt", 272, CLONE_NEWNS),
    "unshare_net": lambda: sc("unshare_net", 272, CLONE_NEWNET),
    "unshare_pid": lambda: sc("unshare_pid", 272, CLONE_NEWPID),
    "setns": lambda: setns(),
    "clone_newuser": lambda: clone(CLONE_NEWUSER),
    "clone_newns": lambda: clone(CLONE_NEWNS),
    "clone3": lambda: sc("clone3", 435, buf(88), 88),
    # kernel modules and kernels
    "init_module": lambda: sc("init_module", 175, buf(64), 64, b""),
    "finit_module": lambda: finit_module(),
    "delete_module": lambda: sc("delete_module", 176, b"loop", 0x800),  # O_NONBLOCK
    "kexec_load": lambda: sc("kexec_load", 246, 0, 0, 0, 0),
    "kexec_file_load": lambda: sc("kexec_file_load", 320, -1, -1, 0, b"", 0x4),
    "reboot": lambda: sc("reboot", 169, 0xfee1dead, 672274793, 0, 0),  # LINUX_REBOOT_CMD_CAD_OFF: harmless
    # kernel attack surface
    "bpf": lambda: sc("bpf", 321, 0, buf(128), 128),  # BPF_MAP_CREATE
    "perf_event_open": lambda: sc("perf_event_open", 298, buf(128), 0, -1, -1, 0),
    "userfaultfd": lambda: sc("userfaultfd", 323, 0),
    "io_uring_setup": lambda: sc("io_uring_setup", 425, 1, buf(120)),
    "open_by_handle_at": lambda: sc("open_by_handle_at", 304, AT_FDCWD, handle(), 0),
    "name_to_handle_at": lambda: sc("name_to_handle_at", 303, AT_FDCWD, b"/", buf(136), buf(8), 0),
    "iopl": lambda: sc("iopl", 172, 3),
    "ioperm": lambda: sc("ioperm", 173, 0x80, 1, 1),
    "personality_rie": lambda: sc("personality_rie", 135, 0x0400000),  # READ_IMPLIES_EXEC
    "personality_rie_hibits": lambda: sc("personality_rie_hibits", 135, 0x0400000 | (1 << 32)),
    "acct": lambda: sc("acct", 163, b"/tmp/hostile-acct"),
    "swapon": lambda: sc("swapon", 167, b"/tmp/hostile-swap", 0),
    # time
    "clock_settime": lambda: sc("clock_settime", 227, 0, timespec()),  # CLOCK_REALTIME
    "settimeofday": lambda: sc("settimeofday", 164, timespec(), 0),
    "adjtimex": lambda: sc("adjtimex", 159, adjtimex()),
    # keyrings and the kernel log
    "keyctl": lambda: sc("keyctl", 250, 0, -3, 0),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "add_key": lambda: sc("add_key", 248, b"user", b"hostile", b"secret", 6, -3),
    "request_key": lambda: sc("request_key", 249, b"user", b"hostile", 0, -3),
    "syslog": lambda: sc("syslog", 103, 3, buf(4096), 4096),  # SYSLOG_ACTION_READ_ALL
    # other processes
    "process_vm_readv": lambda: process_vm_readv(),
    "kcmp": lambda: sc("kcmp", 312, 1, os.getpid(), 0, 0, 0),
    # devices
    "mknod_block": lambda: sc("mknod_block", 133, b"/tmp/hostile-sda", 0o060600, (8 << 8) | 0),
    "mknod_char": lambda: sc("mknod_char", 133, b"/tmp/hostile-mem", 0o020600, (1 << 8) | 1),
}


def clone(flags):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(56), ctypes.c_long(flags | SIGCHLD), ctypes.c_long(0), ctypes.c_long(0),
                     ctypes.c_long(0), ctypes.c_long(0))
    e = ctypes.get_errno()
    if r == 0:
        os._exit(0)
    if r > 0:
        os.waitpid(r, 0)
    out("clone_%s" % {CLONE_NEWUSER: "newuser", CLONE_NEWNS: "newns"}[flags], r >= 0, e)


def setns():
    try:
        fd = os.open("/proc/1/ns/mnt", os.O_RDONLY)
    except OSError as x:
        # Not even the descriptor: the attempt fails before the call.
        out("setns", False, x.errno)
        return
    sc("setns", 308, fd, 0)


def finit_module():
    fd = os.open("/dev/null", os.O_RDONLY)
    sc("finit_module", 313, fd, b"", 0)


def handle():
    # struct file_handle for the root inode of an ext4 file system (the "shocker" exploit).
    h = ctypes.create_string_buffer(8 + 8)
    ctypes.memmove(h, (8).to_bytes(4, "little") + (1).to_bytes(4, "little") + (2).to_bytes(8, "little"), 16)
    return h


def timespec():
    # The current time: were the call allowed, the clock would not move.
    t = ctypes.create_string_buffer(16)
    ctypes.memmove(t, int(time.time()).to_bytes(8, "little") + (0).to_bytes(8, "little"), 16)
    return t


def adjtimex():
    b = ctypes.create_string_buffer(512)
    ctypes.memmove(b, (0x0001).to_bytes(4, "little"), 4)  # ADJ_OFFSET: a write
    return b


def process_vm_readv():
    local = ctypes.create_string_buffer(16)
    iov_l = (ctypes.c_void_p * 2)(ctypes.cast(local, ctypes.c_void_p), 16)
    iov_r = (ctypes.c_void_p * 2)(0x400000, 16)
    sc("process_vm_readv", 310, 1, iov_l, 1, iov_r, 1, 0)


# The i386 ABI: a 64-bit process may still enter the kernel through `int 0x80` with the 32-bit
# system call numbers (where the kernel has IA32 emulation). A seccomp filter written for x86_64
# must not let those through.
PROT_R, PROT_W, PROT_X = 1, 2, 4
MAP_PRIVATE, MAP_ANON, MAP_32BIT = 0x2, 0x20, 0x40
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def low_page():
    # Memory below 4 GiB, which 32-bit system calls can address.
    return libc.mmap(None, 4096, PROT_R | PROT_W, MAP_PRIVATE | MAP_ANON | MAP_32BIT, -1, 0)


def int80(nr, *args):
    a = (list(args) + [0] * 5)[:5]
    u32 = lambda v: struct.pack("<I", v & 0xffffffff)
    code = (b"\x53\x56\x57"                      # push rbx, rsi, rdi (callee-saved)
            + b"\xb8" + u32(nr)                     # mov eax, nr
            + b"\xbb" + u32(a[0]) + b"\xb9" + u32(a[1]) + b"\xba" + u32(a[2])
            + b"\xbe" + u32(a[3]) + b"\xbf" + u32(a[4])
            + b"\xcd\x80"                           # int 0x80
            + b"\x5f\x5e\x5b\xc3")                  # pop rdi, rsi, rbx; ret
    page = low_page()
    ctypes.memmove(page, code, len(code))
    libc.mprotect(page, 4096, PROT_R | PROT_X)
    return ctypes.CFUNCTYPE(ctypes.c_int)(page)()


def i386_call(name, nr, *args):
    # In a child: a successful unshare must not change the probe, and a kernel without IA32
    # emulation kills the caller with SIGSEGV (reported as ENOSYS: the ABI is not there).
    pid = os.fork()
    if pid == 0:
        r = int80(nr, *args)
        out(name, r >= 0, -r if r < 0 else 0)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        out(name, False, errno.ENOSYS)


def cmd_i386():
    low = low_page()
    ctypes.memmove(low, b"none\0/mnt\0tmpfs\0", 16)
    i386_call("i386_unshare_user", 310, CLONE_NEWUSER)
    i386_call("i386_unshare_user_net", 310, CLONE_NEWUSER | CLONE_NEWNET)
    i386_call("i386_keyctl", 288, 0, -3, 0)
    i386_call("i386_bpf", 357, 0, low + 512, 64)
    i386_call("i386_userfaultfd", 374, 0)
    i386_call("i386_perf_event_open", 336, low + 1024, 0, -1, -1, 0)
    i386_call("i386_mount", 21, low, low + 5, low + 10, 0, 0)
    i386_call("i386_personality_rie", 136, 0x0400000)


def cmd_sys(names):
    for n in names:
        SYSCALLS[n]()


def cmd_seize():
    # PTRACE_SEIZE (no SIGSTOP, so a success does not freeze the init) on every thread of PID 1.
    for t in sorted(os.listdir("/proc/1/task"), key=int):
        ctypes.set_errno(0)
        r = libc.ptrace(ctypes.c_long(0x4206), ctypes.c_long(int(t)), None, None)
        out("seize_1_task_%s" % t, r == 0, ctypes.get_errno())


def cmd_open(path, how):
    flags = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR}[how]
    try:
        fd = os.open(path, flags)
    except OSError as x:
        out("open_" + how, False, x.errno)
        return
    data = b""
    if how != "w":
        try:
            data = os.read(fd, 64)
        except OSError:
            pass
    out("open_" + how, True, extra=" read=%d" % len(data))


def cmd_connect(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, int(port)))
        data = s.recv(64)
        out("connect", True, extra=" data=%r" % data)
    except socket.timeout:
        out("connect", False, errno.ETIMEDOUT)
    except OSError as x:
        out("connect", False, x.errno)


def cmd_connect_unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    name = "\0" + path[1:] if path.startswith("@") else path
    try:
        s.connect(name)
        data = s.recv(64)
        out("connect_unix", True, extra=" data=%r" % data)
    except OSError as x:
        out("connect_unix", False, x.errno)


def cmd_tiocsti(fd="0"):
    # Push a character into the input of the terminal on descriptor fd: with the plain request
    # number, with high bits set (the kernel only looks at the low 32 bits of an ioctl request), and
    # through the i386 ABI.
    fd = int(fd)
    if not os.isatty(fd):
        print("not_a_terminal: fd %d" % fd, flush=True)
    c = ctypes.c_char(b"#")
    for name, req in (("tiocsti", 0x5412), ("tiocsti_hibits", 0x5412 | (1 << 32))):
        ctypes.set_errno(0)
        r = libc.ioctl(ctypes.c_int(fd), ctypes.c_ulong(req), ctypes.byref(c))
        out(name, r == 0, ctypes.get_errno())
    low = low_page()
    ctypes.memmove(low, b"#", 1)
    i386_call("tiocsti_i386", 54, fd, 0x5412, low)


def cmd_suid_uid(path, *args):
    # Start a set-user-ID program that waits for input and read its ids while it runs.
    p = subprocess.Popen([path] + list(args), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    uid = "gone"
    for _ in range(50):
        try:
            for line in open("/proc/%d/status" % p.pid):
                if line.startswith("Uid:"):
                    uid = " ".join(line.split()[1:])
            break
        except OSError:
            time.sleep(0.01)
    p.kill()
    p.wait()
    print("euid_of_%s: %s" % (os.path.basename(path), uid), flush=True)


def cmd_chroot_breakout(marker):
    # The classic chroot escape: chroot into a subfolder while keeping a descriptor outside, then
    # walk up. It must end at the sandbox's own root, which has no host files.
    try:
        os.makedirs("/tmp/hostile-jail", exist_ok=True)
        fd = os.open("/", os.O_RDONLY)
        os.chroot("/tmp/hostile-jail")
        os.fchdir(fd)
        for _ in range(64):
            os.chdir("..")
        os.chroot(".")
    except OSError as x:
        out("chroot_breakout", False, x.errno)
        return
    out("chroot_breakout", True, extra=" sees_marker=%s" % os.path.exists(marker))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "sys": lambda: cmd_sys(args),
        "seize": cmd_seize,
        "open": lambda: cmd_open(*args),
        "connect": lambda: cmd_connect(*args),
        "connect_unix": lambda: cmd_connect_unix(*args),
        "tiocsti": lambda: cmd_tiocsti(*args),
        "i386": cmd_i386,
        "suid_uid": lambda: cmd_suid_uid(*args),
        "chroot_breakout": lambda: cmd_chroot_breakout(*args),
    }[cmd]()


main()
