"""A TCP proxy a test controls, to put network faults between a client and a server.

``TcpProxy(upstream_port)`` listens on its own port of 127.0.0.1 and forwards
every connection to the upstream server. The test decides what the network
does, with no timing luck:

* `stop` closes the listener and every connection: new connections are refused.
* `blackhole` accepts connections but forwards nothing in either direction
  (the client waits for its read timeout); `stall_after` does the same
  automatically once a number of bytes went upstream.
* `start` forwards again (connections held by the black hole are closed).

``accepted`` counts the connections accepted, so a test can tell how often a
client tried.
"""

from __future__ import annotations

import select
import socket
import threading

from tests.conftest import free_port

__all__ = ["TcpProxy"]

_CHUNK = 1 << 16


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``127.0.0.1:<upstream_port>`` until told otherwise."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = free_port()
        self.accepted = 0
        self.bytes_up = 0
        self._limit: int | None = None
        self._holding = False
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control -----------------------------------------------------------
    def start(self) -> TcpProxy:
        """Listen (again) and forward; connections held by a black hole are closed."""
        with self._lock:
            self._holding = False
            self._limit = None
        self._close_connections()
        if self._listener is None:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:  # wakes the thread blocked in accept(); close() alone would not
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        self._close_connections()

    def blackhole(self) -> None:
        """Accept connections but let nothing through, either way."""
        with self._lock:
            self._holding = True

    def stall_after(self, nbytes: int) -> None:
        """Forward until ``nbytes`` more bytes went upstream, then act as a black hole."""
        with self._lock:
            self._limit = self.bytes_up + nbytes

    @property
    def holding(self) -> bool:
        return self._holding

    # -- forwarding ----------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by stop()
                return
            with self._lock:
                self.accepted += 1
                self._conns.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            self._conns.append(server)
        peers = {client: server, server: client}
        try:
            while True:
                if self._holding:
                    if client.fileno() < 0:
                        return
                    select.select([], [], [], 0.05)
                    continue
                readable, _, _ = select.select(list(peers), [], [], 0.05)
                for sock in readable:
                    data = sock.recv(_CHUNK)
                    if not data:
                        return
                    peers[sock].sendall(data)
                    if sock is client:
                        self._count_up(len(data))
        except (OSError, ValueError):  # a socket closed by stop() / start()
            return
        finally:
            client.close()
            server.close()

    def _count_up(self, nbytes: int) -> None:
        with self._lock:
            self.bytes_up += nbytes
            if self._limit is not None and self.bytes_up >= self._limit:
                self._holding = True
                self._limit = None

    def _close_connections(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
