// The playground page: settings -> JSON API, the event stream -> canvases.
// Plain browser JavaScript, no build step; the server's API is documented
// in scratchnn/playground/server.py.
"use strict";

const $ = (id) => document.getElementById(id);
const CLASS_COLOURS = [[31, 95, 191], [217, 72, 15], [47, 158, 68],
                       [134, 46, 156]];
const POSITIVE = [31, 95, 191];
const NEGATIVE = [217, 72, 15];
const EXPLAIN_ROWS = 4;

const page = {
  id: null,        // the session's id
  limits: null,    // GET /api/limits
  layers: [],      // the hidden layers being edited
  state: null,     // the latest GET .../state
  fetching: false, // a state request is on its way
  again: false,    // another one is wanted when it returns
  columns: [],     // x of each column of the network drawing
};

// ----------------------------------------------------------------------
// The API
// ----------------------------------------------------------------------
// A string body goes as it is, with `type`; anything else as JSON.
async function api(method, path, body, type = "application/json") {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = type;
    options.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const answer = await fetch(path, options);
  const kind = answer.headers.get("Content-Type") || "";
  const data = kind.startsWith("application/json")
    ? await answer.json() : await answer.text();
  if (!answer.ok) {
    const text = data && data.error ? data.error : answer.statusText;
    throw new Error(`${method} ${path}: ${answer.status} ${text}`);
  }
  return data;
}

function session(rest) {
  return `/api/sessions/${page.id}${rest}`;
}

function showStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

// Run an async action; its failure goes to the status line.
async function attempt(action) {
  try {
    await action();
  } catch (err) {
    showStatus(err.message, true);
  }
}

// ----------------------------------------------------------------------
// Settings
// ----------------------------------------------------------------------
function fillChoices(name, choices) {
  const select = $("settings").elements[name];
  for (const choice of choices) {
    select.add(new Option(choice, choice));
  }
}

function showConfig(config) {
  const fields = $("settings").elements;
  // "upload" is a choice only while the session holds uploaded data.
  const uploaded = [...fields.dataset.options]
    .find((option) => option.value === "upload");
  if (config.dataset === "upload" && !uploaded) {
    fields.dataset.add(new Option("upload", "upload"));
  } else if (config.dataset !== "upload" && uploaded) {
    uploaded.remove();
  }
  for (const name of ["dataset", "points", "noise", "test_ratio", "seed",
                      "loss", "optimizer", "lr", "batch_size"]) {
    fields[name].value = config[name] === null ? "" : config[name];
  }
  page.layers = config.layers.map((layer) => ({ ...layer }));
  showLayers();
}

function showLayers() {
  const list = $("layers");
  list.replaceChildren();
  page.layers.forEach((layer, i) => {
    const units = document.createElement("input");
    units.type = "number";
    units.min = 1;
    units.max = page.limits.max_units;
    units.value = layer.units;
    units.addEventListener("change", () => {
      layer.units = units.valueAsNumber;
    });

    const activation = document.createElement("select");
    for (const name of page.limits.activations) {
      activation.add(new Option(name, name, false, name === layer.activation));
    }
    activation.addEventListener("change", () => {
      layer.activation = activation.value;
    });

    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "remove";
    remove.addEventListener("click", () => {
      page.layers.splice(i, 1);
      attempt(sendConfig);
    });

    const item = document.createElement("li");
    item.append(units, " units ", activation, " ", remove);
    list.append(item);
  });
  $("add-layer").disabled = page.layers.length >= page.limits.max_layers;
}

// A blank or unreadable number goes as null; the server names the rule.
function number(name) {
  const value = $("settings").elements[name].valueAsNumber;
  return Number.isNaN(value) ? null : value;
}

function readConfig() {
  const fields = $("settings").elements;
  return {
    dataset: fields.dataset.value,
    points: number("points"),
    noise: number("noise"),
    test_ratio: number("test_ratio"),
    seed: number("seed"),
    layers: page.layers,
    loss: fields.loss.value,
    optimizer: fields.optimizer.value,
    lr: number("lr"),
    batch_size: number("batch_size"),
  };
}

// The chosen CSV file, read here and sent as text; the server parses it.
async function sendUpload() {
  const input = $("upload");
  const file = input.files[0];
  if (!file) {
    return;
  }
  input.value = "";
  if (file.size > page.limits.max_csv_bytes) {
    throw new Error(`${file.name} has ${file.size} bytes; at most ` +
                    `${page.limits.max_csv_bytes} may be uploaded`);
  }
  const text = await file.text();
  const config = await api("POST", session("/data"), text, "text/csv");
  showConfig(config);
  $("explain").hidden = true;
  showStatus(`uploaded ${file.name}: ${config.points} points; the ` +
             `network starts afresh`);
  await refresh();
}

async function sendConfig() {
  const config = await api("POST", session("/config"), readConfig());
  showConfig(config);
  $("explain").hidden = true;
  showStatus("new settings; the network starts afresh");
  await refresh();
}

// ----------------------------------------------------------------------
// Training controls and the event stream
// ----------------------------------------------------------------------
async function control(action) {
  const summary = await api("POST", session(`/${action}`));
  showSummary(summary);
  showStatus(summary.message || summary.status);
  if (action === "step" || action === "reset") {
    await refresh();
  }
}

function listen() {
  const events = new EventSource(session("/events"));
  events.addEventListener("state", (event) => {
    const summary = JSON.parse(event.data);
    showSummary(summary);
    if (summary.decision) {
      refresh();
    }
  });
  events.addEventListener("closed", () => {
    events.close();
    showStatus("the server closed this session; reload the page", true);
  });
  events.addEventListener("error", () => {
    if (events.readyState === EventSource.CLOSED) {
      showStatus("lost the event stream; reload the page", true);
    }
  });
}

function fixed(value, digits = 4) {
  return value === null || value === undefined ? "–" : value.toFixed(digits);
}

function showSummary(summary) {
  $("epoch").textContent = summary.epoch;
  $("step-count").textContent = summary.step;
  $("loss").textContent = fixed(summary.loss);
  $("test-loss").textContent = fixed(summary.test_loss);
  $("test-accuracy").textContent = fixed(summary.test_accuracy, 3);
  if (summary.status === "diverged" || summary.message) {
    showStatus(summary.message, summary.status === "diverged");
  }
}

// Fetch the whole state and redraw; one request at a time.
async function refresh() {
  if (page.fetching) {
    page.again = true;
    return;
  }
  page.fetching = true;
  try {
    page.state = await api("GET", session("/state"));
    showSummary(page.state);
    drawBoundary(page.state);
    drawCurves(page.state.history);
    drawNetwork(page.state);
  } catch (err) {
    showStatus(err.message, true);
  } finally {
    page.fetching = false;
  }
  if (page.again) {
    page.again = false;
    setTimeout(refresh, 100);
  }
}

// ----------------------------------------------------------------------
// Drawing
// ----------------------------------------------------------------------
// A size x size grid as an image; grid row 0 is the lowest y, so it
// becomes the image's bottom row.
function gridImage(size, colourAt) {
  const image = new ImageData(size, size);
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      const rgb = colourAt(size - 1 - row, col);
      const k = 4 * (row * size + col);
      image.data.set([rgb[0], rgb[1], rgb[2], 255], k);
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  canvas.getContext("2d").putImageData(image, 0, 0);
  return canvas;
}

function paler(rgb, amount) {
  return rgb.map((c) => Math.round(255 - (255 - c) * amount));
}

function css(rgb, alpha = 1) {
  return `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${alpha})`;
}

function drawBoundary(state) {
  const canvas = $("boundary");
  const ctx = canvas.getContext("2d");
  const { size, extent, proba } = state.decision;

  // Each cell mixes the class colours by their probabilities.
  const heat = gridImage(size, (i, j) => {
    const mix = [0, 0, 0];
    proba[i][j].forEach((p, k) => {
      const colour = CLASS_COLOURS[k % CLASS_COLOURS.length];
      for (let c = 0; c < 3; c++) {
        mix[c] += (p ?? 0) * colour[c];
      }
    });
    return paler(mix, 0.55);
  });
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(heat, 0, 0, canvas.width, canvas.height);

  const [x0, x1, y0, y1] = extent;
  const px = (x) => ((x - x0) / (x1 - x0)) * canvas.width;
  const py = (y) => (1 - (y - y0) / (y1 - y0)) * canvas.height;
  const dots = (points, test) => {
    for (const [x, y, label] of points) {
      const colour = css(CLASS_COLOURS[label % CLASS_COLOURS.length]);
      ctx.beginPath();
      ctx.arc(px(x), py(y), test ? 3.5 : 3, 0, 2 * Math.PI);
      ctx.lineWidth = test ? 2 : 1;
      ctx.fillStyle = test ? "white" : colour;
      ctx.strokeStyle = test ? colour : "white";
      ctx.fill();
      ctx.stroke();
    }
  };
  dots(state.points.train, false);
  dots(state.points.test, true);
}

function drawCurves(history) {
  const canvas = $("curves");
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = 28;
  ctx.clearRect(0, 0, width, height);

  const finite = history.loss.concat(history.test_loss)
    .filter((v) => v !== null);
  const n = history.loss.length;
  ctx.fillStyle = "#666";
  ctx.font = "11px sans-serif";
  if (n === 0 || finite.length === 0) {
    ctx.fillText("no finished epoch yet", pad, height / 2);
    return;
  }
  const top = Math.max(...finite) * 1.05;
  const x = (i) => pad + (n === 1 ? 0 : (i / (n - 1)) * (width - 2 * pad));
  const y = (v) => height - pad - (v / top) * (height - 2 * pad);

  // Axes with their end values.
  ctx.strokeStyle = "#bbb";
  ctx.beginPath();
  ctx.moveTo(pad, pad);
  ctx.lineTo(pad, height - pad);
  ctx.lineTo(width - pad, height - pad);
  ctx.stroke();
  ctx.fillText(top.toPrecision(2), 2, pad);
  ctx.fillText("0", pad - 10, height - pad);
  ctx.fillText(`epoch ${history.epoch[n - 1]}`, width - 80, height - 8);

  const line = (values, colour) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    values.forEach((v, i) => {
      if (v !== null) {
        ctx.lineTo(x(i), y(v));
      }
    });
    ctx.stroke();
  };
  line(history.loss, css(POSITIVE));
  line(history.test_loss, css(NEGATIVE));
}

// Inputs, hidden units (as heat maps) and outputs in columns, joined by
// one line per weight.
function drawNetwork(state) {
  const canvas = $("network");
  const sizes = [state.weights[0].W.length]
    .concat(state.weights.map((w) => w.b.length));
  const tile = 20;
  const gap = 6;
  const tallest = Math.max(...sizes);
  canvas.height = Math.max(160, tallest * (tile + gap) + 2 * gap);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);

  const step = (canvas.width - 2 * tile) / (sizes.length - 1);
  page.columns = sizes.map((_, c) => tile + c * step);
  const centre = (c, i) => {
    const top = (canvas.height - sizes[c] * (tile + gap)) / 2;
    return [page.columns[c], top + i * (tile + gap) + tile / 2];
  };

  // Weights first, so the tiles sit on top of them.
  state.weights.forEach(({ W }, l) => {
    const largest = Math.max(1e-12, ...W.flat().map((w) => Math.abs(w ?? 0)));
    W.forEach((row, i) => {
      row.forEach((w, j) => {
        const [xa, ya] = centre(l, i);
        const [xb, yb] = centre(l + 1, j);
        ctx.strokeStyle = css(w >= 0 ? POSITIVE : NEGATIVE, 0.6);
        ctx.lineWidth = 0.3 + 3.5 * Math.abs(w ?? 0) / largest;
        ctx.beginPath();
        ctx.moveTo(xa, ya);
        ctx.lineTo(xb, yb);
        ctx.stroke();
      });
    });
  });

  // Each hidden unit's output, scaled by its own largest |value|.
  ctx.imageSmoothingEnabled = false;
  state.units.forEach((layer, l) => {
    layer.forEach((grid, j) => {
      const largest = Math.max(1e-12,
        ...grid.flat().map((v) => Math.abs(v ?? 0)));
      const heat = gridImage(grid.length, (r, c) => {
        const v = (grid[r][c] ?? 0) / largest;
        return paler(v >= 0 ? POSITIVE : NEGATIVE, Math.abs(v));
      });
      const [x, y] = centre(l + 1, j);
      ctx.drawImage(heat, x - tile / 2, y - tile / 2, tile, tile);
      ctx.strokeStyle = "#888";
      ctx.lineWidth = 1;
      ctx.strokeRect(x - tile / 2, y - tile / 2, tile, tile);
    });
  });

  const last = sizes.length - 1;
  const label = (c, i, text, fill) => {
    const [x, y] = centre(c, i);
    ctx.fillStyle = fill;
    ctx.fillRect(x - tile / 2, y - tile / 2, tile, tile);
    ctx.fillStyle = "#222";
    ctx.font = "11px sans-serif";
    ctx.fillText(text, x - tile / 2 + 2, y + 4);
  };
  label(0, 0, "x₁", "#eee");
  label(0, 1, "x₂", "#eee");
  for (let k = 0; k < sizes[last]; k++) {
    const colour = sizes[last] === 1 ? [200, 200, 200]
      : CLASS_COLOURS[k % CLASS_COLOURS.length];
    label(last, k, sizes[last] === 1 ? "p" : `${k}`, css(paler(colour, 0.6)));
  }
}

// ----------------------------------------------------------------------
// One layer's equations, from GET .../explain
// ----------------------------------------------------------------------
function formatValue(value) {
  const num = (v) => (v === null ? "nan" : v.toPrecision(4).padStart(11));
  if (!Array.isArray(value)) {
    return num(value).trim();
  }
  const cut = (list, n) => (list.length > n ? list.slice(0, n) : list);
  const more = (list, n) => (list.length > n ? " …" : "");
  if (!Array.isArray(value[0])) {
    return `[${cut(value, 6).map(num).join("")}${more(value, 6)} ]`;
  }
  const rows = cut(value, 4).map(
    (row) => `[${cut(row, 6).map(num).join("")}${more(row, 6)} ]`);
  if (value.length > 4) {
    rows.push(` … ${value.length - 4} more rows`);
  }
  return rows.join("\n");
}

async function explainLayer(index) {
  const answer = await api("GET", session(`/explain?rows=${EXPLAIN_ROWS}`));
  const forward = answer.forward.find((s) => s.layer === index);
  const backward = answer.backward.find((s) => s.layer === index);
  if (!forward) {
    return;
  }
  $("explain-title").textContent = backward ? backward.title
    : forward.title;
  $("explain-note").textContent =
    `${answer.description}. One training step on the first ` +
    `${answer.data.x.shape[0]} training points from the current weights; ` +
    `loss ${formatValue(answer.loss.L.value)} (${answer.loss.L.equation}).`;

  const body = $("explain-rows");
  body.replaceChildren();
  for (const stage of [forward, backward]) {
    for (const [key, quantity] of Object.entries(stage || {})) {
      if (key === "layer" || key === "title") {
        continue;
      }
      const row = body.insertRow();
      row.insertCell().textContent = quantity.equation;
      row.insertCell().textContent = quantity.shapes;
      const pre = document.createElement("pre");
      pre.textContent = formatValue(quantity.value);
      row.insertCell().append(pre);
    }
  }
  $("explain").hidden = false;
}

function layerAt(event) {
  const canvas = $("network");
  const x = event.offsetX * (canvas.width / canvas.clientWidth);
  let best = 1;
  page.columns.forEach((cx, c) => {
    if (c > 0 && Math.abs(cx - x) < Math.abs(page.columns[best] - x)) {
      best = c;
    }
  });
  return best - 1;  // column c holds the outputs of layer c - 1
}

// ----------------------------------------------------------------------
// Start
// ----------------------------------------------------------------------
async function start() {
  page.limits = await api("GET", "/api/limits");
  fillChoices("dataset", page.limits.datasets);
  fillChoices("loss", page.limits.losses);
  fillChoices("optimizer", page.limits.optimizers);
  const fields = $("settings").elements;
  [fields.points.min, fields.points.max] = page.limits.points;

  const created = await api("POST", "/api/sessions", {});
  page.id = created.id;
  document.body.dataset.session = page.id;
  showConfig(created.config);
  $("download-npz").href = session("/model.npz");
  $("download-py").href = session("/model.py");

  $("settings").addEventListener("change", (event) => {
    attempt(event.target.id === "upload" ? sendUpload : sendConfig);
  });
  $("settings").addEventListener("submit", (e) => e.preventDefault());
  $("add-layer").addEventListener("click", () => {
    const last = page.layers[page.layers.length - 1];
    page.layers.push({ units: last ? last.units : 4,
                       activation: last ? last.activation : "tanh" });
    attempt(sendConfig);
  });
  for (const action of ["train", "pause", "step", "reset"]) {
    $(action).addEventListener("click", () => attempt(() => control(action)));
  }
  $("network").addEventListener("click", (event) => {
    attempt(() => explainLayer(layerAt(event)));
  });

  listen();
  await refresh();
  showStatus("ready: press Train");
}

document.addEventListener("DOMContentLoaded", () => attempt(start));
