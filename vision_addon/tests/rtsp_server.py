"""A real RTSP camera for the tests: GStreamer's RTSP server streaming a video file over H.264.

Two halves in one module, kept apart by what they import:

* the server (``serve`` and ``main``) runs as a script under Debian's ``/usr/bin/python3``, the only
  Python here with ``gi`` and GstRtspServer (the pip Pythons cannot import them)::

      /usr/bin/python3 tests/rtsp_server.py --file vtest.avi --port 8554 --mount cam

  It listens on ``rtsp://127.0.0.1:<port>/<mount>`` and prints ``READY <url>`` on stdout once the
  socket is bound. Every client gets its own pipeline (``shared=False``), so each connection starts
  at the file's first frame, and the stream ends at the file's end (or after ``--max-frames``):
  runs are deterministic. SIGTERM/SIGINT stop it.
* the pytest side (``RtspServer``, ``start_rtsp_server``, ``serving``, ``free_port``) runs in the
  test venv and starts/stops the script as a subprocess. It imports only the standard library, so the
  module imports in both Pythons.

Timing seen here: the server is READY in about 0.3 s; OpenCV's FFmpeg backend needs about 2 s to
open the stream (DESCRIBE/SETUP/PLAY and the first key frame); frames then arrive in real time
(the server's sink is synchronised to the clock).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
import contextlib
import os
from pathlib import Path
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import IO

DEFAULT_FILE = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
SYSTEM_PYTHON = "/usr/bin/python3"
"""Debian's Python: the one with ``gi`` (python3-gi) and the GstRtspServer typelib."""
HOST = "127.0.0.1"
PORT_BUSY = 3
"""Exit status when the port cannot be bound (the pytest side retries: a restart may race)."""


# --------------------------------------------------------------------------------------------
# Server side (runs under /usr/bin/python3)
# --------------------------------------------------------------------------------------------


def _say(stream: IO[str], line: str) -> None:
    stream.write(line + "\n")
    stream.flush()


def launch_description(file: Path, *, max_frames: int | None = None) -> str:
    """The media pipeline each client gets: decode the file, re-encode as low-latency H.264."""
    location = str(file).replace("\\", "\\\\").replace('"', '\\"')
    limit = " ! identity name=limit" if max_frames else ""
    return (
        f'( filesrc location="{location}" ! decodebin ! videoconvert{limit}'
        " ! x264enc tune=zerolatency speed-preset=ultrafast threads=1 key-int-max=30"
        " ! video/x-h264,profile=baseline"
        " ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def serve(file: Path, port: int, mount: str, *, max_frames: int | None = None) -> int:
    """Serve ``file`` until SIGTERM/SIGINT; returns the process exit status."""
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_description(file, max_frames=max_frames))
    factory.set_shared(False)  # every client starts from the first frame
    server.get_mount_points().add_factory(f"/{mount}", factory)

    def on_media_configure(
        _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia
    ) -> None:
        # --max-frames: end the stream like the file's end would (an EOS after N frames), which
        # the payloader turns into an RTCP BYE that FFmpeg reports as the end of the stream.
        limiter = media.get_element().get_by_name("limit")
        if limiter is None or not max_frames:
            return
        limit = max_frames
        seen = [0]

        def on_buffer(pad: Gst.Pad, _info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
            seen[0] += 1
            if seen[0] <= limit:
                return Gst.PadProbeReturn.OK
            if seen[0] == limit + 1:
                pad.push_event(Gst.Event.new_eos())
            return Gst.PadProbeReturn.DROP

        limiter.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    factory.connect("media-configure", on_media_configure)
    if server.attach(None) == 0:
        _say(sys.stderr, f"ERROR cannot listen on {HOST}:{port}")
        return PORT_BUSY

    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    _say(sys.stdout, f"READY rtsp://{HOST}:{port}/{mount}")
    loop.run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a video file as an RTSP/H.264 camera.")
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="video file to serve")
    parser.add_argument("--port", type=int, default=8554, help="TCP port on 127.0.0.1")
    parser.add_argument("--mount", default="stream", help="path of the stream (no slash)")
    parser.add_argument(
        "--max-frames", type=int, default=None, help="end the stream after this many frames"
    )
    args = parser.parse_args(argv)
    if not args.file.is_file():
        _say(sys.stderr, f"ERROR no such file: {args.file}")
        return 2
    return serve(args.file, args.port, args.mount.strip("/"), max_frames=args.max_frames)


# --------------------------------------------------------------------------------------------
# Pytest side (runs in the test venv; standard library only)
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class RtspServer:
    """The server script as a subprocess; ``start()``/``stop()`` may be repeated on the same port.

    Use it as a context manager (or call ``stop()`` in a ``finally``) so the process never
    outlives the test.
    """

    def __init__(
        self,
        file: Path | str = DEFAULT_FILE,
        *,
        port: int | None = None,
        mount: str = "stream",
        max_frames: int | None = None,
        python: str = SYSTEM_PYTHON,
        ready_timeout: float = 20.0,
    ) -> None:
        self.file = Path(file)
        self.port = port if port is not None else free_port()
        self.mount = mount.strip("/")
        self.max_frames = max_frames
        self.python = python
        self.ready_timeout = ready_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://{HOST}:{self.port}/{self.mount}"

    def url_with_credentials(self, username: str, password: str) -> str:
        """The URL with credentials in it (the server ignores them; for masking tests)."""
        return f"rtsp://{username}:{password}@{HOST}:{self.port}/{self.mount}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> RtspServer:
        """Start the script and wait for its READY line; raises RuntimeError if it never comes."""
        if self.running:
            return self
        if not Path(self.python).is_file():
            raise RuntimeError(
                f"{self.python} not found: the RTSP server needs Debian's python3-gi"
            )
        command = [
            self.python,
            str(Path(__file__).resolve()),
            "--file",
            str(self.file),
            "--port",
            str(self.port),
            "--mount",
            self.mount,
        ]
        if self.max_frames:
            command += ["--max-frames", str(self.max_frames)]
        # Kept open across start() and stop(): the server's log, quoted when it fails to start.
        self._stderr = tempfile.NamedTemporaryFile(prefix="rtsp_server_", suffix=".log")  # noqa: SIM115
        # A restart on the same port may race the old socket's release: retry a few times.
        deadline = time.monotonic() + self.ready_timeout
        while True:
            self._process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL
            )
            if self._wait_ready(deadline):
                return self
            status = self._terminate()
            if status != PORT_BUSY or time.monotonic() >= deadline:
                log = self._read_log()
                self._close_log()
                raise RuntimeError(f"RTSP server on port {self.port} did not start: {log}")
            time.sleep(0.2)

    def _wait_ready(self, deadline: float) -> bool:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        fd = process.stdout.fileno()
        received = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select(
                [fd], [], [], max(0.0, min(0.2, deadline - time.monotonic()))
            )
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:  # the process exited (port taken, missing plugin, ...)
                    return False
                received += chunk
                if b"READY " in received and received.endswith(b"\n"):
                    return True
            elif process.poll() is not None:
                return False
        return False

    def _read_log(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        return Path(self._stderr.name).read_text(errors="replace").strip()[-2000:]

    def _terminate(self) -> int | None:
        """Stop the process if it runs; returns its exit status."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def _close_log(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stop(self) -> None:
        """Stop the server (clients see their connection close); safe to call twice."""
        self._terminate()
        self._close_log()

    def restart(self) -> RtspServer:
        """Stop and start again on the same port and mount (a camera that drops and returns)."""
        self.stop()
        return self.start()

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_rtsp_server(
    file: Path | str = DEFAULT_FILE,
    *,
    port: int | None = None,
    mount: str = "stream",
    max_frames: int | None = None,
) -> RtspServer:
    """Start a server and wait until it listens; the caller stops it (``.stop()`` or ``with``)."""
    return RtspServer(file, port=port, mount=mount, max_frames=max_frames).start()


@contextlib.contextmanager
def serving(
    file: Path | str = DEFAULT_FILE,
    *,
    port: int | None = None,
    mount: str = "stream",
    max_frames: int | None = None,
) -> Iterator[RtspServer]:
    """Fixture-ready: ``with serving(vtest) as server: ...`` or ``yield from`` it in a fixture."""
    server = start_rtsp_server(file, port=port, mount=mount, max_frames=max_frames)
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
