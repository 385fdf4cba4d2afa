"""The playground's HTTP server: a JSON API over `SessionStore`, with
server-sent events, on the standard library's ThreadingHTTPServer."""
import ipaddress
import json
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import TrainingDivergedError
from . import config as settings
from .config import ConfigError
from .sessions import GRID_SIZE, MAX_EXPLAIN_ROWS, UNIT_GRID_SIZE, SessionError
from .store import SessionStore
from .upload import MAX_CLASSES, MAX_CSV_BYTES, parse_upload

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
MAX_STREAMS = 40  # event streams open at once, over all sessions
EVENT_INTERVAL = 0.25  # seconds between events: at most 4 a second
MAX_EVENTS = 100_000
STREAM_WRITE_TIMEOUT = 10.0  # a stream's reader stalled this long is dropped

STATIC_DIR = Path(__file__).parent / "static"
# The only files served; a request names a key, never a path.
STATIC_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
PAGE_POLICY = "default-src 'self'; frame-ancestors 'none'"

_ID = r"(?P<id>[0-9a-f]{32})"
_ACTIONS = "train|pause|step|reset"
ROUTES = [
    ("GET", re.compile(r"/"), "page"),
    ("GET", re.compile(r"/static/(?P<name>[^/]*)"), "static"),
    ("GET", re.compile(r"/api/health"), "health"),
    ("GET", re.compile(r"/api/limits"), "limits"),
    ("POST", re.compile(r"/api/sessions"), "create"),
    ("GET", re.compile(rf"/api/sessions/{_ID}"), "summary"),
    ("DELETE", re.compile(rf"/api/sessions/{_ID}"), "delete"),
    ("GET", re.compile(rf"/api/sessions/{_ID}/config"), "get_config"),
    ("POST", re.compile(rf"/api/sessions/{_ID}/config"), "set_config"),
    ("POST", re.compile(rf"/api/sessions/{_ID}/(?P<action>{_ACTIONS})"),
     "action"),
    ("POST", re.compile(rf"/api/sessions/{_ID}/data"), "data"),
    ("GET", re.compile(rf"/api/sessions/{_ID}/state"), "state"),
    ("GET", re.compile(rf"/api/sessions/{_ID}/events"), "events"),
    ("GET", re.compile(rf"/api/sessions/{_ID}/explain"), "explain"),
    ("GET", re.compile(rf"/api/sessions/{_ID}/model\.npz"), "model"),
    ("GET", re.compile(rf"/api/sessions/{_ID}/model\.py"), "python"),
]
# The query parameters each route takes, with their bounds.
QUERIES = {
    "events": {"limit": (1, MAX_EVENTS)},
    "explain": {"rows": (1, MAX_EXPLAIN_ROWS)},
}


class HttpError(Exception):
    """Answer the request with `status` and {"error": message}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class PlaygroundServer(ThreadingHTTPServer):
    """A threading HTTP server that holds the sessions.

    Parameters
    ----------
    address : (str, int)
        Host and port; port 0 picks a free one (see `server_address`).
    store : SessionStore or None, default=None
        None makes one with the default bounds.
    """

    daemon_threads = True

    def __init__(self, address, store: SessionStore | None = None):
        super().__init__(address, Handler)
        self.store = SessionStore() if store is None else store
        self.stopping = threading.Event()
        self.streams = 0
        self.streams_lock = threading.Lock()
        self.loopback = _is_loopback(address[0])

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/"

    def stop(self) -> None:
        """End event streams and training threads, then stop serving."""
        self.stopping.set()
        self.store.close_all()
        self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    """Routes each request; every failure becomes a JSON error."""

    server_version = "scratchnn-playground"
    # A client silent this long between bytes is dropped (socket timeout).
    timeout = 30
    error_content_type = "application/json"

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), format % args)

    def send_error(self, code, message=None, explain=None):
        # http.server's own errors (bad request line, unknown method,
        # header trouble): JSON like ours, and never a 5xx for the method.
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code = HTTPStatus.METHOD_NOT_ALLOWED
        self.close_connection = True
        try:
            text = message or HTTPStatus(code).phrase
            self._send_json(code, {"error": text})
        except OSError:
            pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_HEAD(self):
        self._handle("HEAD")

    def do_OPTIONS(self):
        self._handle("OPTIONS")

    # ------------------------------------------------------------------
    # Dispatch
    # ------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        try:
            self._check_origin()
            route, match, query = self._route(method)
            getattr(self, f"_{route}")(match, query)
        except HttpError as err:
            self._send_json(err.status, {"error": str(err)})
        except ConfigError as err:
            self._send_json(400, {"error": str(err)})
        except SessionError as err:
            self._send_json(err.status, {"error": str(err)})
        except TrainingDivergedError as err:
            self._send_json(409, {"error": str(err)})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as err:  # noqa: BLE001 - the server must stay up
            logger.exception("error serving %s %s", method, self.path)
            self._send_json(500, {"error": f"internal error "
                                           f"({type(err).__name__})"})

    def _check_origin(self) -> None:
        """Refuse other sites' pages, and DNS rebinding on loopback."""
        host = self.headers.get("Host", "")
        if self.server.loopback:
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in ("127.0.0.1", "localhost", "[::1]"):
                raise HttpError(403, f"Host {host!r:.60} is not this "
                                     f"machine's loopback address")
        origin = self.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != host:
            raise HttpError(403, f"requests from origin {origin!r:.60} are "
                                 f"not allowed")

    def _route(self, method: str):
        parts = urlsplit(self.path)
        path = parts.path
        allowed = []
        for verb, pattern, name in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if verb == method:
                return name, match, self._query(name, parts.query)
            allowed.append(verb)
        if allowed:
            raise HttpError(405, f"{method} is not allowed on {path!r:.80}; "
                                 f"use {', '.join(allowed)}")
        raise HttpError(404, f"no such path {path!r:.80}")

    def _query(self, route: str, text: str) -> dict:
        try:
            pairs = parse_qs(text, keep_blank_values=True,
                             strict_parsing=bool(text), max_num_fields=10)
        except ValueError as err:
            raise HttpError(400, f"bad query string: {err}") from None
        known = QUERIES.get(route, {})
        query = {}
        for key, values in pairs.items():
            if key not in known:
                raise HttpError(400, f"unknown query parameter {key!r:.40}"
                                     f" for this path")
            low, high = known[key]
            value = values[-1]
            if not re.fullmatch(r"[0-9]{1,9}", value) or not (
                low <= int(value) <= high
            ):
                raise HttpError(400, f"{key} must be an integer in "
                                     f"[{low}, {high}], got {value!r:.40}")
            query[key] = int(value)
        return query

    def _length(self, cap: int) -> int:
        """The body's Content-Length, refused above `cap` bytes."""
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(411, "send a Content-Length, not a "
                                 "Transfer-Encoding")
        length = self.headers.get("Content-Length", "0")
        if not re.fullmatch(r"[0-9]{1,12}", length.strip()):
            raise HttpError(400, f"bad Content-Length {length!r:.40}")
        length = int(length)
        if length > cap:
            self.close_connection = True
            raise HttpError(413, f"the body may be at most {cap} bytes, "
                                 f"got {length}")
        return length

    def _check_kind(self, wanted: str) -> None:
        kind = self.headers.get("Content-Type", "").split(";")[0].strip()
        if kind != wanted:
            self.close_connection = True
            raise HttpError(415, f"the body must be {wanted}, got "
                                 f"{kind!r:.60}")

    def _body(self):
        """The request's JSON body; None when it has none."""
        length = self._length(MAX_BODY_BYTES)
        if length == 0:
            return None
        self._check_kind("application/json")
        raw = self.rfile.read(length)
        try:
            return json.loads(raw.decode("utf-8"),
                              parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise HttpError(400, f"the body is not valid JSON: "
                                 f"{str(err):.100}") from None

    def _session(self, match):
        session = self.server.store.get(match["id"])
        if session is None:
            raise HttpError(404, f"no session {match['id']!r}; it may have "
                                 f"been deleted or evicted, create a new one")
        return session

    # ------------------------------------------------------------------
    # Routes
    # ------------------------------------------------------------------
    def _page(self, match, query):
        self._send_static("index.html")

    def _static(self, match, query):
        if match["name"] not in STATIC_FILES:
            raise HttpError(404, f"no static file {match['name']!r:.60}")
        self._send_static(match["name"])

    def _send_static(self, name: str) -> None:
        body = (STATIC_DIR / name).read_bytes()
        self._send(200, body, STATIC_FILES[name],
                   {"Content-Security-Policy": PAGE_POLICY})

    def _health(self, match, query):
        self._send_json(200, {"ok": True, "sessions": len(self.server.store)})

    def _limits(self, match, query):
        store = self.server.store
        self._send_json(200, {
            "max_layers": settings.MAX_LAYERS,
            "max_units": settings.MAX_UNITS,
            "points": [settings.MIN_POINTS, settings.MAX_POINTS],
            "max_sessions": store.max_sessions,
            "max_train_seconds": store.max_train_seconds,
            "max_body_bytes": MAX_BODY_BYTES,
            "max_csv_bytes": MAX_CSV_BYTES,
            "max_classes": MAX_CLASSES,
            "datasets": list(settings.DATASETS),
            "activations": list(settings.HIDDEN_ACTIVATIONS),
            "losses": list(settings.LOSSES),
            "optimizers": list(settings.OPTIMIZERS),
            "grid_size": GRID_SIZE,
            "unit_grid_size": UNIT_GRID_SIZE,
            "defaults": settings.DEFAULTS,
        })

    def _create(self, match, query):
        body = self._body()
        session = self.server.store.create({} if body is None else body)
        with session.lock:
            answer = session.summary()
        answer["config"] = session.config
        self._send_json(201, answer)

    def _summary(self, match, query):
        session = self._session(match)
        with session.lock:
            answer = session.summary()
        answer["config"] = session.config
        self._send_json(200, answer)

    def _delete(self, match, query):
        if not self.server.store.delete(match["id"]):
            raise HttpError(404, f"no session {match['id']!r}")
        self._send_json(200, {"deleted": match["id"]})

    def _get_config(self, match, query):
        self._send_json(200, self._session(match).config)

    def _set_config(self, match, query):
        session = self._session(match)
        body = self._body()
        config = session.configure({} if body is None else body)
        self._send_json(200, config)

    def _action(self, match, query):
        session = self._session(match)
        body = self._body()
        if body not in (None, {}):
            raise HttpError(400, f"{match['action']} takes no settings; send "
                                 f"no body or {{}}")
        getattr(session, match["action"])()
        with session.lock:
            self._send_json(200, session.summary())

    def _data(self, match, query):
        """A CSV body (x1, x2, label) becomes the session's data."""
        session = self._session(match)
        length = self._length(MAX_CSV_BYTES)
        self._check_kind("text/csv")
        # Parsed from memory: nothing touches the disk.
        X, y = parse_upload(self.rfile.read(length))
        config = session.upload(X, y)
        self._send_json(200, config)

    def _state(self, match, query):
        self._send_json(200, self._session(match).state())

    def _explain(self, match, query):
        session = self._session(match)
        self._send_json(200, session.explain(query.get("rows")))

    def _model(self, match, query):
        data = self._session(match).model_bytes()
        self._send(200, data, "application/octet-stream",
                   {"Content-Disposition":
                    'attachment; filename="playground-model.npz"'})

    def _python(self, match, query):
        source = self._session(match).python_source()
        self._send(200, source.encode("utf-8"), "text/x-python; charset=utf-8",
                   {"Content-Disposition":
                    'attachment; filename="playground_model.py"'})

    def _events(self, match, query):
        """Server-sent events: the summary (and the decision grid when it
        changed) at most every EVENT_INTERVAL s, until the session or the
        server goes, `limit` events were sent, or the client stops reading.
        The training thread never waits for this one."""
        session = self._session(match)
        server = self.server
        with server.streams_lock:
            if server.streams >= MAX_STREAMS:
                raise HttpError(429, f"at most {MAX_STREAMS} event streams "
                                     f"may be open at once")
            server.streams += 1
        try:
            self._stream(session, query.get("limit", MAX_EVENTS))
        finally:
            with server.streams_lock:
                server.streams -= 1

    def _stream(self, session, limit: int) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.connection.settimeout(STREAM_WRITE_TIMEOUT)

        last_step = None
        for sent in range(limit):
            if sent:
                if self.server.stopping.wait(EVENT_INTERVAL):
                    return
            if self.server.store.get(session.id) is not session:
                self._event("closed", {"id": session.id})
                return
            # Copy the numbers under the lock, send them outside it.
            with session.lock:
                event = session.summary()
                if session.step_count != last_step:
                    event["decision"] = session.decision_grid()
                    last_step = session.step_count
            try:
                self._event("state", event)
            except OSError:
                return

    def _event(self, name: str, payload: dict) -> None:
        text = json.dumps(payload, allow_nan=False)
        self.wfile.write(f"event: {name}\ndata: {text}\n\n".encode())
        self.wfile.flush()

    # ------------------------------------------------------------------
    # Answers
    # ------------------------------------------------------------------
    def _send_json(self, status: int, payload) -> None:
        try:
            body = json.dumps(payload, allow_nan=False)
        except ValueError:
            body = json.dumps(_finite(payload))
        self._send(status, body.encode("utf-8"), "application/json")

    def _send(self, status: int, body: bytes, kind: str,
              headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def serve(host: str = "127.0.0.1", port: int = 8765,
          store: SessionStore | None = None) -> PlaygroundServer:
    """A `PlaygroundServer` bound to host and port, serving in a thread.

    Call `stop()` on it to end it; `url` says where it listens.
    """
    server = PlaygroundServer((host, port), store)
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": 0.05},
                              name="playground-server", daemon=True)
    thread.start()
    return server


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite(value):
    """`value` with NaN and inf replaced by None, for strict JSON."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
