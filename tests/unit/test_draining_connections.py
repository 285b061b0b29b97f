"""A draining replica closes the API server's idle pooled connections, except one whose next request is
already in the socket but not yet read by the event loop: closed, that request would fail with EOF."""

from __future__ import annotations

import socket

from eligibility_operator.runtime.serving.limits import request_arriving


def test_a_request_in_the_socket_is_seen_without_being_consumed() -> None:
    server, client = socket.socketpair()
    try:
        server.setblocking(False)
        assert not request_arriving(server)  # idle: nothing sent
        client.sendall(b"POST /validate-workloads HTTP/1.1\r\n")
        assert request_arriving(server)
        assert request_arriving(server)  # peeking again: still there
        assert server.recv(64) == b"POST /validate-workloads HTTP/1.1\r\n"  # nothing was consumed
        assert not request_arriving(server)
        client.close()
        assert not request_arriving(server)  # the peer gone (end of file): nothing to protect
    finally:
        server.close()
    assert not request_arriving(server)  # a closed socket
