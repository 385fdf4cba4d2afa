"""The playground's page: its static files over HTTP, then the whole page
driving a real training run in headless Chromium (skipped without one)."""
import http.client
import re
import time
from pathlib import Path

import pytest

from scratchnn import Network
from scratchnn.playground import SessionStore, serve
from scratchnn.playground.server import STATIC_DIR, STATIC_FILES

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-quic", "--disable-background-networking"]
TEST_LOSS_BOUND = 0.3  # spirals' three classes start near ln 3 = 1.10
TRAIN_DEADLINE = 60.0  # seconds


@pytest.fixture
def server():
    srv = serve("127.0.0.1", 0, SessionStore(max_sessions=3))
    yield srv
    srv.stop()


def get(srv, method, path):
    """(status, headers, body) for a path sent exactly as given."""
    host, port = srv.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request(method, path)
    answer = connection.getresponse()
    result = answer.status, answer.headers, answer.read()
    connection.close()
    return result


def test_page_references_only_its_static_files(server):
    status, headers, page = get(server, "GET", "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert page == (STATIC_DIR / "index.html").read_bytes()
    assert "default-src 'self'" in headers["Content-Security-Policy"]

    links = re.findall(rb'(?:src|href)="([^"]*)"', page)
    assert sorted(links) == [b"/static/app.js", b"/static/style.css"]


@pytest.mark.parametrize("name, kind", [
    ("index.html", "text/html; charset=utf-8"),
    ("app.js", "text/javascript; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
])
def test_each_static_file_is_served_with_its_type(server, name, kind):
    status, headers, body = get(server, "GET", f"/static/{name}")
    assert (status, headers["Content-Type"]) == (200, kind)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert body == (STATIC_DIR / name).read_bytes()
    # Nothing is fetched from elsewhere: no scheme://host anywhere.
    assert b"://" not in body


def test_the_allow_list_is_the_static_folder():
    on_disk = {path.name for path in STATIC_DIR.iterdir()}
    assert on_disk == set(STATIC_FILES)


@pytest.mark.parametrize("path", [
    "/static/../server.py",
    "/static/%2e%2e/server.py",
    "/static/..%2fserver.py",
    "/static/server.py",
    "/static/nothing.js",
    "/static/",
    "/static",
    "/static/app.js/",
    "/static/app.js/../app.js",
    "/static/APP.JS",
    "/index.html",
])
def test_other_static_paths_are_404(server, path):
    status, headers, body = get(server, "GET", path)
    assert status == 404, body
    assert headers["Content-Type"] == "application/json"
    assert b"import" not in body


def test_static_files_are_read_only(server):
    status, _, _ = get(server, "POST", "/static/app.js")
    assert status == 405


# ----------------------------------------------------------------------
# The page in a real browser
# ----------------------------------------------------------------------
def canvas_colours(page, selector: str) -> int:
    """How many distinct RGBA values the canvas holds."""
    return page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector);
            const { data } = canvas.getContext("2d").getImageData(
                0, 0, canvas.width, canvas.height);
            const seen = new Set();
            for (let k = 0; k < data.length; k += 4) {
                seen.add(data.slice(k, k + 4).join(","));
            }
            return seen.size;
        }""",
        selector,
    )


def settle(page, action, path_end: str):
    """Do `action` and wait for the page's request ending in `path_end`.

    A new config is answered, then drawn into the form, then followed by a
    fetch of the state: waiting for that fetch too means the form has been
    drawn again before the test touches it.
    """
    if path_end != "/config":
        with page.expect_response(
            lambda r: r.url.endswith(path_end)
        ) as answer:
            action()
    else:
        with page.expect_response(lambda r: r.url.endswith("/state")):
            with page.expect_response(
                lambda r: r.url.endswith(path_end)
            ) as answer:
                action()
    assert answer.value.status == 200, answer.value.text()


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def test_page_trains_spirals_in_a_browser(server, browser, tmp_path):
    # The page's Content-Security-Policy forbids eval, which Playwright's
    # string predicates need; the page itself never evals.
    page = browser.new_page(accept_downloads=True, bypass_csp=True)
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(server.url)
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('ready')",
        timeout=15_000,
    )

    # Spirals, and a network of two tanh layers of 12 units, built by hand:
    # a third layer is added and removed again on the way.
    settle(page, lambda: page.select_option("select[name=dataset]",
                                            "spirals"), "/config")
    settle(page, lambda: page.click("#add-layer"), "/config")
    # The list is drawn again once the page has read the answer: wait.
    expect = pytest.importorskip("playwright.sync_api").expect
    expect(page.locator("#layers li")).to_have_count(3)
    settle(page, lambda: page.click("#layers li:nth-child(3) button"),
           "/config")
    for i in (1, 2):
        units = page.locator(f"#layers li:nth-child({i}) input")
        units.fill("12")
        settle(page, lambda: units.dispatch_event("change"), "/config")
        settle(page, lambda: page.select_option(
            f"#layers li:nth-child({i}) select", "tanh"), "/config")
    sid = page.evaluate("document.body.dataset.session")
    config = page.request.get(f"{server.url}api/sessions/{sid}/config").json()
    assert config["dataset"] == "spirals"
    assert config["layers"] == [{"units": 12, "activation": "tanh"}] * 2

    # Train until the test loss the page shows is small.
    page.click("#train")
    deadline = time.monotonic() + TRAIN_DEADLINE
    shown = float("inf")
    while time.monotonic() < deadline and shown >= TEST_LOSS_BOUND:
        page.wait_for_timeout(250)
        text = page.text_content("#test-loss")
        shown = float(text) if re.fullmatch(r"[0-9.]+", text) else shown
    settle(page, lambda: page.click("#pause"), "/pause")
    assert shown < TEST_LOSS_BOUND, f"test loss still {shown}"
    page.wait_for_timeout(600)  # the last state's redraw
    page.screenshot(path=str(tmp_path / "playground.png"), full_page=True)

    # The boundary mixes three class colours; every unit drew a heat map.
    assert canvas_colours(page, "#boundary") > 50
    assert canvas_colours(page, "#network") > 50
    assert canvas_colours(page, "#curves") > 3
    summary = page.request.get(f"{server.url}api/sessions/{sid}").json()
    assert summary["test_loss"] < TEST_LOSS_BOUND
    assert int(page.text_content("#epoch")) > 0

    # A click on the first hidden layer shows its equations and numbers.
    box = page.locator("#network").bounding_box()
    columns = page.evaluate("page.columns")
    scale = box["width"] / page.evaluate("$('network').width")
    settle(page, lambda: page.mouse.click(
        box["x"] + columns[1] * scale, box["y"] + box["height"] / 2
    ), "/explain?rows=4")
    page.wait_for_selector("#explain:not([hidden])")
    table = page.text_content("#explain-rows")
    for equation in ("z0 = x W0 + b0", "a0 = tanh(z0)", "δ0", "dW0", "db0"):
        assert equation in table
    assert "(4, 2) @ (2, 12) -> (4, 12)" in table

    # Both downloads work; the model file loads and predicts.
    with page.expect_download() as download:
        page.click("#download-npz")
    model_path = tmp_path / "model.npz"
    download.value.save_as(model_path)
    assert Network.load(model_path).predict([[0.0, 0.0]]).shape == (1,)
    with page.expect_download() as download:
        page.click("#download-py")
    assert "def predict_proba" in Path(download.value.path()).read_text()

    status_class = page.get_attribute("#status", "class") or ""
    assert "error" not in status_class, page.text_content("#status")
    assert errors == []


def xor_csv_bytes(n: int = 200, broken: bool = False) -> bytes:
    from scratchnn.data import make_xor

    X, y = make_xor(n, seed=0)
    rows = [f"{float(a)!r},{float(b)!r},{'ab'[c]}" for (a, b), c in zip(X, y)]
    if broken:
        rows[2] = "0.1,oops,a"
    return ("x1,x2,label\n" + "\n".join(rows) + "\n").encode()


def test_page_uploads_a_csv_and_trains_on_it(server, browser):
    page = browser.new_page(bypass_csp=True)
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(server.url)
    page.wait_for_function(
        "document.getElementById('status').textContent.startsWith('ready')",
        timeout=15_000,
    )

    # The file goes from memory to the input; the page reads and posts it.
    csv_file = {"name": "xor.csv", "mimeType": "text/csv",
                "buffer": xor_csv_bytes()}
    with page.expect_response(lambda r: r.url.endswith("/state")):
        settle(page, lambda: page.set_input_files("#upload", csv_file),
               "/data")
    assert page.input_value("select[name=dataset]") == "upload"
    assert page.text_content("#status").startswith("uploaded xor.csv: 200")
    sid = page.evaluate("document.body.dataset.session")
    state = page.request.get(f"{server.url}api/sessions/{sid}/state").json()
    assert state["config"]["dataset"] == "upload"
    assert state["decision"]["classes"] == ["a", "b"]
    n = len(state["points"]["train"]) + len(state["points"]["test"])
    assert n == 200

    page.click("#train")
    deadline = time.monotonic() + TRAIN_DEADLINE
    shown = float("inf")
    while time.monotonic() < deadline and shown >= TEST_LOSS_BOUND:
        page.wait_for_timeout(250)
        text = page.text_content("#test-loss")
        shown = float(text) if re.fullmatch(r"[0-9.]+", text) else shown
    settle(page, lambda: page.click("#pause"), "/pause")
    assert shown < TEST_LOSS_BOUND, f"test loss still {shown}"

    # A broken file: the status line names the cell; the data stays.
    broken = dict(csv_file, buffer=xor_csv_bytes(broken=True))
    with page.expect_response(lambda r: r.url.endswith("/data")) as answer:
        page.set_input_files("#upload", broken)
    assert answer.value.status == 400
    page.wait_for_selector("#status.error")
    assert "line 4, column 'x2': 'oops'" in page.text_content("#status")
    config = page.request.get(f"{server.url}api/sessions/{sid}/config").json()
    assert config["dataset"] == "upload"

    # Choosing a built-in dataset replaces the upload.
    settle(page, lambda: page.select_option("select[name=dataset]",
                                            "moons"), "/config")
    options = page.eval_on_selector_all(
        "select[name=dataset] option", "os => os.map(o => o.value)")
    assert "upload" not in options
    assert errors == []
