"""A real HTTP server on loopback for image downloads, optionally slow so progress is visible."""

import contextlib
import functools
import http.server
import subprocess
import threading
import time
from pathlib import Path


class _Handler(http.server.SimpleHTTPRequestHandler):
    delay = 0.0  # seconds between 256 KiB chunks

    def log_message(self, *args):
        pass

    def copyfile(self, source, outputfile):
        while chunk := source.read(256 * 1024):
            outputfile.write(chunk)
            if self.delay:
                time.sleep(self.delay)


@contextlib.contextmanager
def http_server(directory, delay=0.0):
    """Serve `directory` on 127.0.0.1 (of the caller's network namespace); yields the base URL."""
    handler = type("Handler", (_Handler,), {"delay": delay})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def make_qcow2(path, data_mib=2, virtual="64M"):
    """A qcow2 made by qemu-img holding `data_mib` MiB of non-zero data (so it has a real size)."""
    path = Path(path)
    raw = path.with_suffix(".raw")
    with open(raw, "wb") as f:
        f.write((b"nimbo-image-" * 100_000)[: data_mib * 1024 * 1024])
    subprocess.run(["qemu-img", "resize", "-q", "-f", "raw", str(raw), virtual], check=True)
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True)
    raw.unlink()
    return path
