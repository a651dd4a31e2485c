"""free_port(): a TCP port on 127.0.0.1 that nothing listens on now, for tools/bench and
tools/hostile-bench.

Taken at random from below the kernel's ephemeral range, not from bind(0): a port from
that range, once released, can be handed to an outgoing connection before the server told
to listen on it binds it (the server then exits with "cannot listen ... (in use?)").
tests/support/free_port.h does the same for the C++ tests.
"""

import random
import socket


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    low = _ephemeral_low()
    candidates = [random.randrange(10000, low) for _ in range(64)] if low > 10001 else []
    for port in candidates + [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free TCP port on 127.0.0.1")
