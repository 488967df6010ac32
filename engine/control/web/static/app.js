// caminos control page: a client of the engine's control registry over one WebSocket.
// Protocol: docs/web.md. Every change is sent as {address, args}; the server validates it as
// OSC is validated, and sends every page what changed (state), spectrum frames and errors.
"use strict";

const state = { controls: {}, values: {}, meters: {}, landmarks: [], paths: [], path: "",
                recording: "", scenes: [], dims: 0, axes: [], trail: [], held: new Set(),
                recalled: -1, socket: null, hello: null, layout: null, field: {},
                midi: { armed: null, mappings: [] } };
const AXES_SHOWN = 4; // axes with a slider in view; the others fold under "more axes"
const TRAIL = 45; // positions kept for the trail (three seconds of spectrum frames)
const $ = (selector) => document.querySelector(selector);

// ------------------------------------------------------------------------------ connection
function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const token = new URLSearchParams(location.search).get("token");
  const url = `${scheme}//${location.host}/ws` + (token ? `?token=${encodeURIComponent(token)}` : "");
  const socket = new WebSocket(url);
  state.socket = socket;
  socket.onopen = () => { setConnection(true); changed(); };
  socket.onclose = () => { setConnection(false); changed(); setTimeout(connect, 1000); };
  socket.onmessage = (event) => { receive(JSON.parse(event.data)); changed(); };
}

// "caminos:changed" on the document after the page has taken in each message (and when the
// connection opens or closes), for scripts that watch the page, as the tests do.
function changed() {
  document.dispatchEvent(new Event("caminos:changed"));
}

function setConnection(on) {
  const el = $("#connection");
  el.textContent = on ? "connected" : "disconnected: retrying";
  el.className = on ? "on" : "off";
}

function send(address, ...args) {
  const socket = state.socket;
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ address, args }));
  }
}

function receive(message) {
  if (message.type === "hello") return build(message);
  if (message.type === "state") return update(message);
  if (message.type === "spectrum") return spectrum(message);
  if (message.type === "error") {
    $("#last-error").textContent = message.reason;
  }
}

// ------------------------------------------------------------------------------ building
function build(hello) {
  state.hello = hello;
  state.controls = {};
  for (const control of hello.controls) state.controls[control.address] = control;
  state.dims = hello.dims;
  state.axes = hello.axes;
  $("#model").textContent = `${hello.model} · ${hello.sample_rate} Hz · hop ${hello.hop}`;
  for (const el of document.querySelectorAll("[data-address]")) bindControl(el);
  learnButton($("#path-scrub"), "/path/pos");
  buildAxes();
  buildScenes();
  $("#voice-section").hidden = !("/voice/say" in state.controls);
  buildField(hello.layout);
  $("#pitch-row").hidden = !("/latent/pitch" in state.controls);
  $("#pitches-row").hidden = !("/latent/pitches" in state.controls);
  $("#chord-row").hidden = !("/latent/chord" in state.controls);
}

function argOf(address, index = 0) {
  const control = state.controls[address];
  return control ? control.args[index] : null;
}

function bindControl(el) {
  const address = el.dataset.address;
  const arg = argOf(address);
  if (!arg) { el.closest("label, .row, select")?.setAttribute("hidden", ""); return; }
  if (el.dataset.bound) return;
  el.dataset.bound = "1";
  if (el.type === "range") {
    el.min = arg.lo; el.max = arg.hi;
    hold(el);
    learnButton(el, address);
    el.addEventListener("input", () => {
      showOutput(el);
      send(address, Number(el.value));
    });
  } else if (el.type === "checkbox") {
    el.addEventListener("change", () => send(address, el.checked ? 1 : 0));
  } else if (el.tagName === "SELECT") {
    if (arg.choices && !el.options.length) {
      for (const choice of arg.choices) el.add(new Option(choice, choice));
    }
    el.addEventListener("change", () => {
      send(address, arg.kind === "s" ? el.value : Number(el.value));
    });
  }
}

// While a finger or the mouse holds a control, incoming values do not move it.
function hold(el) {
  const on = () => state.held.add(el), off = () => state.held.delete(el);
  el.addEventListener("pointerdown", on);
  el.addEventListener("pointerup", off);
  el.addEventListener("pointercancel", off);
  el.addEventListener("blur", off);
}

function showOutput(el) {
  const out = el.parentElement.querySelector("output");
  if (out) out.textContent = Number(el.value).toFixed(2);
}

function buildAxes() {
  const shown = $("#axes"), more = $("#more-axes");
  shown.textContent = ""; more.textContent = "";
  more.closest("details").hidden = state.dims <= AXES_SHOWN;
  const arg = argOf("/latent/axis", 1);
  for (let k = 0; k < state.dims; k++) {
    const words = state.axes[k] || { plus: [], minus: [] };
    const label = document.createElement("label");
    label.className = "axis";
    label.innerHTML = `<span class="words"><span></span><span></span></span>` +
      `<span class="line"><input type="range" step="0.01"><output></output></span>`;
    const [minus, plus] = label.querySelectorAll(".words span");
    minus.textContent = `${k}: ` + (words.minus.join(", ") || "−");
    plus.textContent = words.plus.join(", ") || "+";
    const input = label.querySelector("input");
    input.min = arg ? arg.lo : -8; input.max = arg ? arg.hi : 8; input.value = 0;
    input.dataset.axis = k;
    input.setAttribute("aria-label", `latent axis ${k}`);
    hold(input);
    input.addEventListener("input", () => { showOutput(input); send("/latent/axis", k, Number(input.value)); });
    learnButton(input, "/latent/axis", k);
    (k < AXES_SHOWN ? shown : more).appendChild(label);
  }
}

// MIDI learn: a button beside a slider arms /midi/learn for its address (and the arguments
// before its value, as the axis's number); the next MIDI control moved then drives the slider.
// Pressed again while armed, it stops learning. Armed and learnt show from the state.
function learnButton(input, address, ...given) {
  if (!("/midi/learn" in state.controls) || input.dataset.learn) return;
  const key = JSON.stringify([address, ...given]);
  input.dataset.learn = key;
  const button = document.createElement("button");
  button.className = "learn";
  button.textContent = "MIDI";
  button.dataset.learn = key;
  button.title = "MIDI learn: press, then move a control of your MIDI controller";
  button.setAttribute("aria-label", `MIDI learn ${address} ${given.join(" ")}`.trim());
  button.addEventListener("click", (event) => {
    event.preventDefault(); // a button inside a label: do not move the slider
    if (JSON.stringify(state.midi.armed) === key) send("/midi/learn");
    else send("/midi/learn", address, ...given);
  });
  (input.parentElement.querySelector("output") || input).after(button);
  paintLearn();
}

function paintLearn() {
  const armed = JSON.stringify(state.midi.armed);
  const learnt = new Map(state.midi.mappings.map((m) => [JSON.stringify(m.slice(1)), m[0]]));
  for (const button of document.querySelectorAll("button.learn")) {
    const key = button.dataset.learn;
    button.classList.toggle("armed", key === armed);
    button.classList.toggle("learnt", learnt.has(key));
    button.title = key === armed ? "MIDI learn: move a control now (press again to stop)"
      : learnt.has(key) ? `MIDI: ${learnt.get(key)} (press to learn another)`
        : "MIDI learn: press, then move a control of your MIDI controller";
  }
}

// The field of voices: its sliders show only when the layout places voices (not with mono).
function buildField(layout) {
  state.layout = layout || null;
  $("#field-section").hidden = !("/field/spread" in state.controls);
  if (!layout) return;
  const channels = layout.channels.length > 1
    ? `channels ${layout.channels[0]}–${layout.channels[layout.channels.length - 1]}`
    : `channel ${layout.channels[0]}`;
  $("#layout").textContent = `${layout.name} · ${layout.voices} voice${layout.voices === 1 ? "" : "s"}` +
    ` · ${channels} of ${layout.speakers}`;
}

// Voice k of n: a hue of its own, around the colour wheel.
function voiceColour(k, n) {
  return `hsl(${(330 + (360 * k) / Math.max(n, 1)) % 360}, 80%, 64%)`;
}

function buildScenes() {
  const box = $("#scenes");
  box.textContent = "";
  for (let i = 0; i < 16; i++) {
    const pad = document.createElement("button");
    pad.textContent = i;
    pad.dataset.scene = i;
    pad.addEventListener("click", () => {
      if ($("#scene-store").checked) {
        send("/scene/store", i);
      } else {
        send("/scene/recall", i, Number($("#scene-fade").value) || 0);
        state.recalled = i;
        paintScenes();
      }
    });
    box.appendChild(pad);
  }
}

// ------------------------------------------------------------------------------ updating
function update(message) {
  if (message.full) { state.values = {}; state.meters = {}; }
  Object.assign(state.values, message.values || {});
  Object.assign(state.meters, message.meters || {});
  for (const key of ["landmarks", "paths", "path", "recording", "scenes", "field", "midi"]) {
    if (key in message) state[key] = message[key];
  }
  for (const [address, value] of Object.entries(message.values || {})) showValue(address, value);
  if ("landmarks" in message) planeChoices();
  if ("paths" in message || "path" in message || "meters" in message) paintPaths();
  if ("scenes" in message) paintScenes();
  if ("midi" in message) paintLearn();
  paintMeters();
  drawMap();
}

function showValue(address, value) {
  if (address === "/latent/z") {
    for (const input of document.querySelectorAll("input[data-axis]")) {
      if (!state.held.has(input)) { input.value = value[Number(input.dataset.axis)]; showOutput(input); }
    }
    return;
  }
  for (const el of document.querySelectorAll(`[data-address="${address}"]`)) {
    if (state.held.has(el) || document.activeElement === el && el.tagName === "SELECT") continue;
    if (el.type === "checkbox") el.checked = Boolean(value[0]);
    else { el.value = value[0]; if (el.type === "range") showOutput(el); }
  }
  if (address === "/source/file/open" && document.activeElement !== $("#file-path")) {
    $("#file-path").value = value[0];
  }
  if (address === "/latent/chord" && document.activeElement !== $("#chord")) {
    $("#chord").value = value.filter((v) => v !== 0).join(" "); // (0) is no chord
  }
}

function planeChoices() {
  const names = state.landmarks.map((l) => l[0]);
  for (const id of ["#plane-origin", "#plane-x", "#plane-y"]) {
    const select = $(id), keep = select.value;
    select.textContent = "";
    for (const name of names) select.add(new Option(name, name));
    if (names.includes(keep)) select.value = keep;
  }
}

function paintPaths() {
  const list = $("#paths");
  const names = state.paths.map((p) => p[0]).join("\n");
  if (list.dataset.names !== names) {
    list.dataset.names = names;
    list.textContent = "";
    for (const [name, seconds] of state.paths) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.textContent = `${name} (${seconds.toFixed(1)} s)`;
      button.dataset.path = name;
      button.addEventListener("click", () => send("/path/play", name));
      item.appendChild(button);
      list.appendChild(item);
    }
  }
  for (const button of list.querySelectorAll("button")) {
    button.classList.toggle("playing", button.dataset.path === state.path && state.meters.path_playing === 1);
  }
  const scrub = $("#path-scrub");
  if (!state.held.has(scrub) && state.meters.path_position != null) {
    scrub.value = state.meters.path_position;
    showOutput(scrub);
  }
}

function paintScenes() {
  for (const pad of document.querySelectorAll("#scenes button")) {
    const i = Number(pad.dataset.scene);
    pad.classList.toggle("stored", state.scenes.includes(i));
    pad.classList.toggle("recalled", i === state.recalled);
  }
}

function paintMeters() {
  const m = state.meters;
  const set = (id, text) => { $(id).textContent = text; };
  const db = (v) => (v == null ? "silent" : `${v.toFixed(1)} dBFS`);
  set("#m-level", `peak ${db(m.peak_dbfs)}, rms ${db(m.rms_dbfs)}`);
  if (m.tick_ms_p99 != null) {
    set("#m-cpu", `${(100 * m.cpu_load).toFixed(0)} % · p50 ${m.tick_ms_p50.toFixed(2)} ms · p99 ${m.tick_ms_p99.toFixed(2)} ms of ${m.hop_ms.toFixed(2)}`);
  } else if (m.cpu_load != null) {
    set("#m-cpu", `${(100 * m.cpu_load).toFixed(0)} %`);
  }
  if (m.xruns != null) set("#m-xruns", String(m.xruns));
  if (m.underruns != null) set("#m-underruns", String(m.underruns));
  if (m.latency_control_ms != null) {
    set("#m-latency", `control→sound ${m.latency_control_ms.toFixed(1)} ms · in→out ${m.latency_in_out_ms.toFixed(1)} ms`);
  }
  if (m.uptime_s != null) set("#m-uptime", uptime(m.uptime_s));
  if (m.restarts != null) set("#m-restarts", String(m.restarts));
  if (m.phase_fallbacks != null) set("#m-fallbacks", String(m.phase_fallbacks));
  if (m.control_errors != null) set("#m-errors", String(m.control_errors));
}

function uptime(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = Math.floor(seconds % 60);
  return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

// ------------------------------------------------------------------------------ the map
const map = $("#map");
let dragging = false, drawing = false, pending = null, scheduled = false;

function mapPoint(event) {
  const box = map.getBoundingClientRect();
  const x = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
  const y = Math.min(Math.max(1 - (event.clientY - box.top) / box.height, 0), 1);
  return [x, y];
}

// A drag sends at most one /latent/xy per animation frame (the page's own rate limit).
function sendXY(point) {
  pending = point;
  state.values["/latent/xy"] = point;
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      if (pending) send("/latent/xy", pending[0], pending[1]);
      pending = null;
      drawMap();
    });
  }
}

map.addEventListener("pointerdown", (event) => {
  map.setPointerCapture(event.pointerId);
  dragging = true;
  const mode = document.querySelector("input[name=map-mode]:checked").value;
  if (mode === "draw") {
    drawing = true;
    const name = $("#gesture-name").value.trim() || "gesture";
    send("/latent/xy", ...mapPoint(event)); // start where the finger is, then record
    send("/path/record", name);
  }
  sendXY(mapPoint(event));
});
map.addEventListener("pointermove", (event) => { if (dragging) sendXY(mapPoint(event)); });
function release() {
  if (!dragging) return;
  dragging = false;
  if (drawing) {
    drawing = false;
    if (pending) send("/latent/xy", pending[0], pending[1]);
    pending = null;
    send("/path/record/stop");
  }
}
map.addEventListener("pointerup", release);
map.addEventListener("pointercancel", release);

function drawMap() {
  const ctx = map.getContext("2d");
  const w = map.width, h = map.height;
  const px = (x) => x * w, py = (y) => (1 - y) * h;
  ctx.clearRect(0, 0, w, h);
  ctx.strokeStyle = "#222a33";
  ctx.lineWidth = 1;
  for (let i = 1; i < 4; i++) {
    ctx.beginPath(); ctx.moveTo(px(i / 4), 0); ctx.lineTo(px(i / 4), h); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(0, py(i / 4)); ctx.lineTo(w, py(i / 4)); ctx.stroke();
  }
  const plane = state.values["/latent/plane"] || ["", "", ""];
  ctx.fillStyle = "#8a9099";
  ctx.font = "13px system-ui, sans-serif";
  ctx.fillText(plane[0] ? `${plane[0]} → ${plane[1]} / ${plane[2]}` : "axes 0 → / 1 ↑", 6, h - 8);
  for (const [name, x, y] of state.landmarks) {
    if (x == null || y == null) continue;
    ctx.fillStyle = "#ffb74d";
    ctx.beginPath(); ctx.arc(px(x), py(y), 6, 0, 2 * Math.PI); ctx.fill();
    ctx.fillStyle = "#e6e6e6";
    ctx.fillText(name, px(x) + 9, py(y) + 4);
  }
  const field = state.field || {};
  const many = (field.voices || []).length > 1 && field.centre; // one voice is the centre
  if (many) drawRing(ctx, px, py, field);
  const trail = state.trail;
  for (let i = 1; i < trail.length; i++) {
    ctx.strokeStyle = `rgba(79, 195, 247, ${i / trail.length})`;
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(px(trail[i - 1][0]), py(trail[i - 1][1]));
    ctx.lineTo(px(trail[i][0]), py(trail[i][1]));
    ctx.stroke();
  }
  if (trail.length) {
    // The position's dot; off the map it waits at the edge it left by, as a ring, so a
    // performer always sees which way the sound went.
    const [x, y] = trail[trail.length - 1];
    const inside = x >= 0 && x <= 1 && y >= 0 && y <= 1;
    const cx = Math.min(Math.max(px(x), 8), w - 8), cy = Math.min(Math.max(py(y), 8), h - 8);
    ctx.fillStyle = ctx.strokeStyle = "#4fc3f7";
    ctx.lineWidth = 3;
    ctx.beginPath(); ctx.arc(cx, cy, 8, 0, 2 * Math.PI);
    if (inside) ctx.fill(); else ctx.stroke();
  }
  if (many) drawVoices(ctx, px, py, field);
  const xy = state.values["/latent/xy"];
  if (xy) {
    ctx.strokeStyle = state.recording ? "#ff5252" : "#ffffff";
    ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(px(xy[0]), py(xy[1]), 12, 0, 2 * Math.PI); ctx.stroke();
  }
}

// The speakers' places: a dashed ring around the field's centre, through them in angle order.
function drawRing(ctx, px, py, field) {
  const ring = field.ring || [];
  const [cx, cy] = [px(field.centre[0]), py(field.centre[1])];
  const order = ring.map((p, k) => [Math.atan2(py(p[1]) - cy, px(p[0]) - cx), k])
    .sort((a, b) => a[0] - b[0]);
  ctx.save();
  ctx.setLineDash([5, 4]);
  ctx.strokeStyle = "rgba(230, 230, 230, 0.5)";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  order.forEach(([, k], i) => {
    const [x, y] = [px(ring[k][0]), py(ring[k][1])];
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.closePath();
  ctx.stroke();
  ctx.restore();
}

// Each voice's dot in its colour with its speaker's label, joined to its speaker's place (a
// small circle on the ring): how far its own offsets and wander took it.
function drawVoices(ctx, px, py, field) {
  const voices = field.voices, ring = field.ring || [];
  const labels = (state.layout && state.layout.labels) || [];
  const n = voices.length;
  ctx.font = "12px system-ui, sans-serif";
  voices.forEach(([x, y], k) => {
    const colour = voiceColour(k, n);
    const [rx, ry] = ring[k] ? [px(ring[k][0]), py(ring[k][1])] : [px(x), py(y)];
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.arc(rx, ry, 4, 0, 2 * Math.PI); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(rx, ry); ctx.lineTo(px(x), py(y)); ctx.stroke();
    ctx.fillStyle = colour;
    ctx.beginPath(); ctx.arc(px(x), py(y), 6, 0, 2 * Math.PI); ctx.fill();
    ctx.strokeStyle = "#0a0c0f";
    ctx.lineWidth = 1;
    ctx.stroke();
    ctx.fillText(labels[k] || String(k + 1), px(x) + 8, py(y) - 6);
  });
}

// ------------------------------------------------------------------------------ spectrum
const spectrogram = $("#spectrogram");

function spectrum(message) {
  for (const point of message.xy) {
    state.trail.push(point);
    if (state.trail.length > TRAIL) state.trail.shift();
  }
  const ctx = spectrogram.getContext("2d");
  const w = spectrogram.width, h = spectrogram.height;
  const columns = message.frames.length;
  ctx.drawImage(spectrogram, -columns * 2, 0); // scroll left two pixels a frame
  message.frames.forEach((levels, i) => {
    const x = w - (columns - i) * 2, rows = levels.length;
    for (let b = 0; b < rows; b++) {
      const v = Math.min(Math.max((levels[b] + 100) / 100, 0), 1); // -100 .. 0 dBFS
      ctx.fillStyle = `hsl(${240 - 200 * v}, 80%, ${8 + 55 * v}%)`;
      const y0 = h - ((b + 1) * h) / rows;
      ctx.fillRect(x, y0, 2, h / rows + 1);
    }
  });
  drawMap();
}

// ------------------------------------------------------------------------------ buttons
$("#path-stop").addEventListener("click", () => send("/path/stop"));
const scrub = $("#path-scrub");
hold(scrub);
scrub.addEventListener("input", () => { showOutput(scrub); send("/path/pos", Number(scrub.value)); });
$("#plane-set").addEventListener("click", () => send("/latent/plane", $("#plane-origin").value, $("#plane-x").value, $("#plane-y").value));
$("#plane-axes").addEventListener("click", () => send("/latent/plane/axes"));
$("#voice-say").addEventListener("click", () => send("/voice/say", $("#voice-text").value));
$("#voice-stop").addEventListener("click", () => send("/voice/stop"));
$("#voice-babble").addEventListener("click", () => send("/voice/babble", Number($("#voice-words").value) || 0));
$("#voice-mix-set").addEventListener("click", () => send("/voice/mix", $("#voice-mix").value));
$("#file-open").addEventListener("click", () => send("/source/file/open", $("#file-path").value));

// A chord: the intervals typed (4 7) or a preset's, one /latent/chord with them all; nothing
// typed is 0, no chord. A word that is not a number goes as it is, for the registry to refuse.
function sendChord(text) {
  const words = text.trim().split(/[\s,]+/).filter(Boolean);
  const args = words.map((w) => (Number.isFinite(Number(w)) ? Number(w) : w));
  send("/latent/chord", ...(args.length ? args : [0]));
}
$("#chord").addEventListener("keydown", (event) => {
  if (event.key === "Enter") sendChord($("#chord").value);
});
for (const button of document.querySelectorAll("#chord-row button[data-chord]")) {
  button.addEventListener("click", () => {
    $("#chord").value = button.dataset.chord === "0" ? "" : button.dataset.chord;
    sendChord(button.dataset.chord);
  });
}

connect();
