"""A real HTTP CONNECT proxy on 127.0.0.1 (threads, sockets) that counts the tunnels it opened."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator

from huntvault.emulator.serve import HOST


class ConnectProxy:
    """Tunnels `CONNECT host:port` to 127.0.0.1 only (anything else answers 403); `tunnels` lists targets."""

    def __init__(self) -> None:
        self.server = socket.create_server((HOST, 0))
        self.port = int(self.server.getsockname()[1])
        self.tunnels: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="connect-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> ConnectProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        self.server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.server.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with contextlib.closing(client):
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, target = head.split(b" ", 2)[:2]
            host, _, port = target.decode().rpartition(":")
            if method != b"CONNECT" or host not in (HOST, "localhost"):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            with self._lock:
                self.tunnels.append(target.decode())
            with contextlib.closing(socket.create_connection((HOST, int(port)))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pair = {client: upstream, upstream: client}
                while True:
                    ready, _, _ = select.select(list(pair), [], [], 30)
                    if not ready:
                        return
                    for sock in ready:
                        data = sock.recv(65536)
                        if not data:
                            return
                        pair[sock].sendall(data)


@contextlib.contextmanager
def connect_proxy() -> Iterator[ConnectProxy]:
    proxy = ConnectProxy().start()
    try:
        yield proxy
    finally:
        proxy.stop()
