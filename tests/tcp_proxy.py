"""A TCP proxy that a test can cut and restore: the database "goes away" and comes back
without stopping the real server, which other tests may be using. It can also lose one
answer: the request reaches the server, which acts on it, and the client sees the
connection close instead of the answer."""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._lose: bytes | None = None
        self.lost = 0
        self._serve()

    def lose_one_answer(self, to: bytes) -> None:
        """The answer to the next request whose bytes contain ``to`` never reaches the client."""
        self._lose = to

    def _serve(self) -> None:
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections.update((client, upstream))
            marked: list[bool] = []  # set by the request pump, read by the answer pump
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, marked, source is upstream),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, marked: list[bool], answers: bool) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    if not answers and self._lose is not None and self._lose in data:
                        self._lose = None
                        marked.append(True)
                    elif answers and marked:
                        self.lost += 1
                        break  # the answer is dropped; finally closes both sides
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Refuse new connections and break every open one, as a stopped server would."""
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for sock in self._connections:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._connections.clear()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        self._serve()

    def close(self) -> None:
        self.cut()
