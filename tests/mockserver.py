"""The local web for crawl tests: the fixture world's sites plus sites that misbehave.

Run as a subprocess: `python tests/mockserver.py [--world DIR]`; it prints one JSON line
`{"ports": {site: port, ...}}` once every server listens on 127.0.0.1, then serves until killed.

Sites: the world's `cablegate`, `wordpress` and `blogger` (see examples/build_world.py), and
- `trouble`: /flaky.html (500, then 200), /ratelimited.html (429 with Retry-After, then 200),
  /reset.html (connection reset), /truncated.html (Content-Length longer than the body),
  /slow.html (answers after SLOW seconds), /loop/a <-> /loop/b (redirect loop),
  /to-private (redirect to 10.255.255.1), /to-localhost (redirect to the canary by another
  host name), /to-ftp (redirect to ftp://), /bomb.html (gzip bomb, 100 MB of zeros),
  /huge.html (50 MB with Content-Length), /huge-stream.html (50 MB, no Content-Length),
  /wrongtype.html (a cable page served as application/octet-stream), /binary.html (random
  bytes as text/html), /hostile.html (links with hostile URLs), /missing.html (404);
- `badrobots`: robots.txt answers 500; / links /page.html;
- `canary`: counts requests; nothing may reach it.

Control (any port): GET /__world__/hits, PUT /__world__/page?site=S&path=P (new body),
POST /__world__/reset (forget hits, page changes and route counters).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import zlib
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crawler.world.server import Hit, World, WorldHandler

HERE = Path(__file__).resolve().parent
DEFAULT_WORLD = HERE / "fixtures" / "world"
SLOW = float(os.environ.get("MOCK_SLOW_SECONDS", "6"))
BIG = 50 * 1024 * 1024


def _gzip_bomb(size: int = 100 * 1024 * 1024) -> bytes:
    """gzip data that inflates to `size` zero bytes (about 100 KB for 100 MB)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1024 * 1024)
    out = [comp.compress(chunk) for _ in range(size // len(chunk))]
    out.append(comp.flush())
    return b"".join(out)


class MockWorld(World):
    """The world plus route state (how often each misbehaving route was hit)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.counters: dict[str, int] = {}
        self.bomb = _gzip_bomb()

    def count(self, key: str) -> int:
        """Count a hit on a route; returns how many hits came before this one."""
        with self.lock:
            n = self.counters.get(key, 0)
            self.counters[key] = n + 1
            return n

    def reset(self) -> None:
        """Forget hits, page changes and counters."""
        with self.lock:
            self.hits.clear()
            self.overlay.clear()
            self.counters.clear()


class MockHandler(WorldHandler):
    """World pages plus the control routes tests use."""

    world: MockWorld
    arrived = 0.0

    def handle_request(self, method: str) -> None:
        """Stamp the request's arrival: politeness is about when requests come, not when answers end."""
        accepted = getattr(self.server, "accepted", {})
        self.arrived = accepted.pop(self.request.fileno(), None) or time.time()
        super().handle_request(method)

    def _log(self, method: str, path: str, query: str, status: int, conditional: bool, size: int) -> None:
        shown = path + (f"?{query}" if query else "")
        ua = self.headers.get("User-Agent", "")
        self.world.record(
            Hit(self.site, method, shown, status, conditional, size, ua, self.arrived or time.time())
        )

    def do_POST(self) -> None:  # noqa: N802 - http.server's API
        if self.path.startswith("/__world__/reset"):
            self.world.reset()
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_simple(405, b"method not allowed\n")


class TroubleHandler(MockHandler):
    """A site whose pages fail in every way a crawl meets."""

    def route(self, method: str, path: str, query: str) -> bool:
        world = self.world
        cable = world.page("cablegate", "/cable/2009/05/09TELAVIV1060.html")
        cable_body = cable[0] if cable else b"<html><body>no cable</body></html>"
        if path == "/robots.txt":
            self.send_simple(200, b"User-agent: *\nDisallow: /private/\n", method=method)
        elif path == "/flaky.html":
            if world.count(path) == 0:
                self.send_simple(
                    500, b"<html><body>Internal Server Error</body></html>", "text/html", method=method
                )
            else:
                self.send_simple(200, cable_body, "text/html; charset=utf-8", method=method)
        elif path == "/ratelimited.html":
            if world.count(path) == 0:
                self.send_simple(429, b"slow down\n", headers={"Retry-After": "1"}, method=method)
            else:
                self.send_simple(
                    200, b"<html><body><p>Thanks for waiting.</p></body></html>", "text/html", method=method
                )
        elif path == "/reset.html":
            world.count(path)
            self._log(method, path, query, 0, False, 0)
            # SO_LINGER 0: close with a TCP reset instead of a clean FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif path == "/truncated.html":
            world.count(path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(cable_body) + 100_000))
            self.end_headers()
            self.wfile.write(cable_body[:2000])
            self.wfile.flush()
            self._log(method, path, query, 200, False, 2000)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif path == "/slow.html":
            world.count(path)
            time.sleep(SLOW)
            try:
                self.send_simple(200, b"<html><body>too late</body></html>", "text/html", method=method)
            except OSError:
                pass
        elif path == "/loop/a":
            self.send_simple(302, b"", headers={"Location": "/loop/b"}, method=method)
        elif path == "/loop/b":
            self.send_simple(302, b"", headers={"Location": "/loop/a"}, method=method)
        elif path == "/to-private":
            self.send_simple(
                302, b"", headers={"Location": "http://10.255.255.1/internal/admin"}, method=method
            )
        elif path == "/to-localhost":
            target = f"http://localhost:{world.ports['canary']}/secret"
            self.send_simple(302, b"", headers={"Location": target}, method=method)
        elif path == "/moved":
            target = f"http://127.0.0.1:{world.ports['cablegate']}/"
            self.send_simple(301, b"", headers={"Location": target}, method=method)
        elif path == "/to-ftp":
            self.send_simple(
                302, b"", headers={"Location": "ftp://ftp.example.org/pub/cables.zip"}, method=method
            )
        elif path == "/bomb.html":
            self.send_simple(
                200, world.bomb, "text/html", headers={"Content-Encoding": "gzip"}, method=method
            )
        elif path in ("/huge.html", "/huge-stream.html"):
            self._huge(method, path, query, with_length=path == "/huge.html")
        elif path == "/wrongtype.html":
            self.send_simple(200, cable_body, "application/octet-stream", method=method)
        elif path == "/binary.html":
            self.send_simple(200, os.urandom(4096) + b"\0\0", "text/html", method=method)
        elif path == "/hostile.html":
            self.send_simple(200, self._hostile(), "text/html; charset=utf-8", method=method)
        else:
            return False
        return True

    def _huge(self, method: str, path: str, query: str, with_length: bool) -> None:
        self.world.count(path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        if with_length:
            self.send_header("Content-Length", str(BIG))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self._log(method, path, query, 200, False, BIG)
        chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
        try:
            for _ in range(BIG // len(chunk)):
                self.wfile.write(chunk)
        except OSError:
            pass  # the crawler hung up: that is the point

    def _hostile(self) -> bytes:
        canary = self.world.ports["canary"]
        links = [
            "/" + "a" * 5000,
            "http://[::1",
            "http://%zz%zz/",
            "/%00/%ff%fe",
            "/../../../../etc/passwd",
            "http://xn--80ak6aa92e.com/",
            "http://ex ample.com/",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "//" + "b" * 300 + ".example/",
            "http://user:pass@127.0.0.1:1/",
            f"http://127.0.0.1:{canary}/other-port",
            f"http://localhost:{canary}/other-name",
            "/private/secret.html",
            "/caf\u00e9/\u2603.html",
            "http://[::ffff:127.0.0.1]:1/",
            "\u202e/reversed",
            "mailto:x@example.org",
        ]
        body = "".join(f'<a href="{h}">link</a>\n' for h in links)
        return f"<html><body>{body}</body></html>".encode("utf-8", "surrogatepass")


class BadRobotsHandler(MockHandler):
    """A site whose robots.txt fails with a server error."""

    def route(self, method: str, path: str, query: str) -> bool:
        if path == "/robots.txt":
            self.send_simple(
                500, b"<html><body>robots.txt: internal error</body></html>", "text/html", method=method
            )
        elif path == "/":
            self.send_simple(
                200, b'<html><body><a href="/page.html">a page</a></body></html>', "text/html", method=method
            )
        elif path == "/page.html":
            self.send_simple(
                200, b"<html><body><p>Nothing to see here.</p></body></html>", "text/html", method=method
            )
        else:
            return False
        return True


class CanaryHandler(MockHandler):
    """Counts every request; the crawler must never get here."""

    def route(self, method: str, path: str, query: str) -> bool:
        self.send_simple(200, b"canary\n", method=method)
        return True


class _StampingServer(ThreadingHTTPServer):
    """Notes when each connection is accepted, before a thread is started for it (a busy machine
    may start that thread late)."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accepted: dict[int, float] = {}

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self.accepted[sock.fileno()] = time.time()
        return sock, addr


def start(world_dir: Path) -> MockWorld:
    """Start every site; returns the world (ports in `.ports`)."""
    world = MockWorld(world_dir, control=True)
    extra: dict[str, type[MockHandler]] = {
        "trouble": TroubleHandler,
        "badrobots": BadRobotsHandler,
        "canary": CanaryHandler,
    }
    for site in [*world.sites, *extra]:
        base = extra.get(site, MockHandler)
        handler = type(f"Handler_{site}", (base,), {"world": world, "site": site})
        stamping = _StampingServer(("127.0.0.1", 0), handler)
        world.servers[site] = stamping
        world.ports[site] = stamping.server_address[1]
    world.sites = [*world.sites, *(s for s in extra if s not in world.sites)]
    for site, server in world.servers.items():
        threading.Thread(target=server.serve_forever, name=f"mock-{site}", daemon=True).start()
    return world


def main(argv: list[str] | None = None) -> int:
    """Serve until killed."""
    ap = argparse.ArgumentParser(description="mock web for crawl tests")
    ap.add_argument("--world", default=str(DEFAULT_WORLD))
    args = ap.parse_args(argv)
    world = start(Path(args.world))
    print(json.dumps({"ports": world.ports}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    return 0


# ----------------------------------------------------------------------------- for the tests

REPO = HERE.parent
# Crawl settings for tests: no politeness delays toward our own server, short timeouts.
FAST = (
    "DOWNLOAD_DELAY=0",
    "AUTOTHROTTLE_ENABLED=False",
    "CONCURRENT_REQUESTS_PER_DOMAIN=4",
    "DOWNLOAD_TIMEOUT=3",
    "RETRY_TIMES=1",
    "CABLEARCHIVE_RETRY_BACKOFF=0.05",
)


def settings_args(*extra: str, base: tuple[str, ...] = FAST) -> list[str]:
    """`-s NAME=VALUE` arguments for the crawl command."""
    out: list[str] = []
    for s in (*base, *extra):
        out += ["-s", s]
    return out


def cli_env() -> dict[str, str]:
    """Environment for running the command from the source tree."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("CABLEARCHIVE_DIR", None)
    return env


def cablearchive(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `cablearchive ARGS` in a child process (Scrapy's reactor runs once per process)."""
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class MockWeb:
    """The mock server in a child process, and what tests ask of it."""

    def __init__(self, world: Path = DEFAULT_WORLD) -> None:
        self.world = Path(world)
        self.meta = json.loads((self.world / "world.json").read_text(encoding="utf-8"))
        # The server's own stderr (handler threads cut off by the crawler) goes to a file, not a pipe
        # nobody reads.
        self.log = tempfile.NamedTemporaryFile(prefix="mockserver-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--world", str(self.world)],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=cli_env(),
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError(
                f"mock server did not start: {Path(self.log.name).read_text(errors='replace')}"
            )
        self.ports: dict[str, int] = json.loads(line)["ports"]

    def url(self, site: str, path: str = "/") -> str:
        """URL of a path on a site."""
        return f"http://127.0.0.1:{self.ports[site]}{path}"

    def _control(self, method: str, name: str, body: bytes | None = None) -> bytes:
        req = urllib.request.Request(self.url("canary", "/__world__/" + name), data=body, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read()

    def hits(self) -> list[dict[str, Any]]:
        """Every request the sites answered since the last reset."""
        return json.loads(self._control("GET", "hits"))

    def reset(self) -> None:
        """Forget hits, page changes and route counters."""
        self._control("POST", "reset", b"")

    def set_page(self, site: str, path: str, body: bytes) -> None:
        """Serve new content at a path from now on."""
        self._control("PUT", f"page?site={site}&path={urllib.parse.quote(path)}", body)

    def fetch(self, site: str, path: str) -> tuple[bytes, list[tuple[str, str]]]:
        """Body and headers of a page, as the crawler receives them (this is logged as a hit)."""
        with urllib.request.urlopen(self.url(site, path), timeout=10) as resp:
            return resp.read(), list(resp.headers.items())

    def write_seeds(self, path: Path, urls: list[str]) -> Path:
        """A seeds file with these URLs."""
        path.write_text("# seeds for a test\n" + "\n".join(urls) + "\n", encoding="utf-8")
        return path

    def stop(self) -> None:
        """Stop the server process."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        os.unlink(self.log.name)


if __name__ == "__main__":
    sys.exit(main())
