// The avgen page: a client of the documented job API (/openapi.json), nothing more.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const $ = (id) => document.getElementById(id);
let kind = "audio";
let current = null; // the id of the job the page follows
let source = null; // its EventSource
let composeTimer = null;

function withToken(url) {
  if (!token) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

async function call(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  const answer = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  if (answer.status !== 204) {
    try { body = await answer.json(); } catch (e) { body = null; }
  }
  if (!answer.ok) {
    const detail = body && body.detail ? body.detail : answer.statusText;
    const wait = answer.headers.get("Retry-After");
    throw new Error(wait ? `${detail}` : detail);
  }
  return body;
}

function show(el, on) { el.hidden = !on; }

function setKind(next) {
  kind = next;
  for (const tab of document.querySelectorAll("#tabs button")) {
    tab.setAttribute("aria-selected", String(tab.dataset.kind === kind));
  }
  for (const el of document.querySelectorAll("[data-for]")) show(el, el.dataset.for === kind);
  $("plan-text").textContent = "";
  show($("plan-roll"), false);
  fillModels();
  compose();
}

// ---------------------------------------------------------------- models, health

let offered = null;

async function loadModels() {
  offered = await call("/api/models");
  const lora = $("lora");
  for (const name of offered.adapter) lora.add(new Option(name, name));
  fillModels();
}

function fillModels() {
  if (!offered) return;
  const select = $("model");
  const keep = select.value;
  select.innerHTML = "";
  for (const name of offered[kind]) select.add(new Option(name, name));
  if (offered[kind].includes(keep)) select.value = keep;
  else if (offered[kind].includes("default")) select.value = "default";
}

async function health() {
  try {
    const h = await call("/api/health");
    $("health").textContent = `avgen ${h.version} \u00b7 ${h.running} running, ${h.queued} queued`;
  } catch (e) {
    $("health").textContent = "server not answering";
  }
}

// ---------------------------------------------------------------- the layered prompt

function layerBody() {
  const num = (id) => ($(id).value === "" ? null : Number($(id).value));
  if (kind === "audio") {
    return { kind, mood: $("mood").value, details: $("details").value,
             duration_s: num("length"), tempo_bpm: num("tempo") };
  }
  return { kind, scene: $("scene").value, motion: $("motion").value, style: $("style").value };
}

function compose() {
  clearTimeout(composeTimer);
  composeTimer = setTimeout(composeNow, 150);
}

async function composeNow() {
  const body = layerBody();
  const first = kind === "audio" ? body.mood : body.scene;
  if (!first.trim()) { renderLint(null); return; }
  try {
    const answer = await call("/api/prompt", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (answer.prompt !== null) $("prompt").value = answer.prompt;
    renderLint(answer);
  } catch (e) {
    renderLint({ error: e.message });
  }
}

function renderLint(answer) {
  const box = $("lint");
  box.innerHTML = "";
  if (!answer) return;
  if (answer.error) {
    box.append(el("p", "warn", answer.error));
    return;
  }
  const lint = answer.lint;
  const layers = el("div", "layers-found");
  for (const [name, ok] of Object.entries(lint.layers)) {
    layers.append(el("span", "layer " + (ok ? "ok" : "missing"), name));
  }
  box.append(layers);
  const tip = el("div", "suggestion", "Suggestion: ");
  const use = el("a", "", lint.suggestion);
  use.href = "#";
  use.title = "use this prompt";
  use.onclick = (e) => { e.preventDefault(); $("prompt").value = lint.suggestion; };
  tip.append(use);
  box.append(tip);
  if (lint.unknown_words.length) {
    box.append(el("div", "warn", "Unknown to the models' vocabulary: " + lint.unknown_words.join(", ")));
  }
  for (const w of lint.warnings) box.append(el("div", "warn", w));
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---------------------------------------------------------------- generate, follow

function settingsFromForm() {
  const s = { kind, prompt: $("prompt").value.trim(), seed: Number($("seed").value || 0),
              model: $("model").value || null, preview: true };
  if ($("steps").value !== "") s.num_inference_steps = Number($("steps").value);
  if ($("guidance").value !== "") s.guidance_scale = Number($("guidance").value);
  if ($("duration").value !== "") {
    s[kind === "audio" ? "audio_length_in_s" : "duration_s"] = Number($("duration").value);
  }
  if (kind === "audio" && $("lora").value) s.lora = $("lora").value;
  return s;
}

async function generate() {
  showError(null);
  const settings = settingsFromForm();
  if (!settings.prompt) { showError("Write a prompt, or fill in the layers."); return; }
  const files = kind === "audio"
    ? { init_audio: $("init_audio").files[0], melody: $("melody").files[0] }
    : { init_image: $("init_image").files[0] };
  let job;
  try {
    if (Object.values(files).some(Boolean)) {
      const form = new FormData();
      form.append("settings", JSON.stringify(settings));
      for (const [name, file] of Object.entries(files)) if (file) form.append(name, file);
      job = await call("/api/jobs/upload", { method: "POST", body: form });
    } else {
      job = await call("/api/jobs", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(settings),
      });
    }
  } catch (e) {
    showError(e.message);
    return;
  }
  follow(job);
  loadHistory();
}

function follow(job) {
  if (source) source.close();
  current = job.id;
  $("generate").disabled = true;
  show($("cancel"), true);
  show($("progress"), true);
  renderProgress(job);
  source = new EventSource(withToken(`/api/jobs/${job.id}/events`));
  source.addEventListener("status", (e) => {
    const status = JSON.parse(e.data);
    renderProgress(status);
    if (["done", "failed", "cancelled"].includes(status.status)) finish(status);
  });
  source.addEventListener("deleted", () => finish(null));
  source.onerror = () => { if (source) source.close(); };
}

function renderProgress(status) {
  const p = status.progress;
  let text;
  if (status.status === "queued") {
    text = status.position === 0 ? "queued: next" : `queued: ${status.position} ahead`;
  } else if (status.status === "running") {
    text = p.total ? `step ${p.step} / ${p.total}` : "loading the model";
    if (p.eta_s !== null) text += ` \u00b7 about ${Math.ceil(p.eta_s)} s left`;
  } else {
    text = status.status;
  }
  $("bar").style.width = (p.total ? (100 * p.step) / p.total : 0) + "%";
  $("progress-text").textContent = text;
}

function finish(status) {
  if (source) { source.close(); source = null; }
  $("generate").disabled = false;
  show($("cancel"), false);
  if (status && status.status === "done") showResult(status);
  if (status && status.status === "failed") showError(status.error);
  loadHistory();
  health();
}

async function cancel() {
  if (!current) return;
  try { await call(`/api/jobs/${current}/cancel`, { method: "POST" }); } catch (e) {
    showError(e.message);
  }
}

function showError(message) {
  show($("error"), Boolean(message));
  $("error").textContent = message || "";
}

function showResult(status) {
  show($("result"), true);
  $("result-prompt").textContent = `"${status.prompt}" \u00b7 seed ${status.settings.seed ?? 0}`;
  const audio = $("audio-player");
  const video = $("video-player");
  const png = $("spectrogram");
  const file = withToken(status.result.file);
  show(audio, status.kind === "audio");
  show(video, status.kind === "video");
  show(png, status.kind === "audio" && Boolean(status.result.preview));
  if (status.kind === "audio") {
    audio.src = file;
    if (status.result.preview) png.src = withToken(status.result.preview);
    video.removeAttribute("src");
  } else {
    video.src = file;
    audio.removeAttribute("src");
  }
  $("download-file").href = withToken(status.result.file + "?download=true");
  $("download-sidecar").href = withToken(status.result.sidecar + "?download=true");
}

// ---------------------------------------------------------------- history

async function loadHistory() {
  let list;
  try { list = await call("/api/jobs?limit=30"); } catch (e) { return; }
  const body = document.querySelector("#history tbody");
  body.innerHTML = "";
  for (const job of list.jobs) {
    const row = document.createElement("tr");
    row.dataset.id = job.id;
    const cells = [job.kind, job.prompt, job.settings.seed ?? 0,
                   job.settings.num_inference_steps ?? "default", job.status];
    cells.forEach((text, i) => row.append(el("td", i === 1 ? "prompt" : "", String(text))));
    const actions = el("td");
    const again = el("button", "again", "Use these settings again");
    again.onclick = () => useAgain(job);
    actions.append(again);
    if (job.status === "done") {
      const open = el("button", "open", "Open");
      open.onclick = () => showResult(job);
      actions.append(" ", open);
    }
    if (job.status !== "running") {
      const del = el("button", "delete", "Delete");
      del.onclick = async () => {
        try { await call(`/api/jobs/${job.id}`, { method: "DELETE" }); } catch (e) {
          showError(e.message);
        }
        loadHistory();
      };
      actions.append(" ", del);
    }
    row.append(actions);
    body.append(row);
  }
}

function useAgain(job) {
  const s = job.settings;
  setKind(job.kind);
  $("prompt").value = s.prompt;
  $("seed").value = s.seed ?? 0;
  $("steps").value = s.num_inference_steps ?? "";
  $("guidance").value = s.guidance_scale ?? "";
  $("duration").value = (job.kind === "audio" ? s.audio_length_in_s : s.duration_s) ?? "";
  if (s.model) $("model").value = s.model;
  if (job.kind === "audio") $("lora").value = s.lora || "";
  clearTimeout(composeTimer); // keep the recorded prompt, not the layers' one
  renderLint(null);
  window.scrollTo(0, 0);
}

// ---------------------------------------------------------------- the note plan

async function showPlan() {
  const text = $("plan-text");
  const roll = $("plan-roll");
  const prompt = $("prompt").value.trim();
  const body = { kind, seed: Number($("seed").value || 0) };
  if (prompt) body.prompt = prompt;
  if ($("duration").value !== "") body.duration_s = Number($("duration").value);
  const midi = kind === "audio" ? $("melody").files[0] : undefined;
  let answer;
  try {
    if (midi) {
      const form = new FormData();
      form.append("settings", JSON.stringify(body));
      form.append("melody", midi);
      answer = await call("/api/plan/upload", { method: "POST", body: form });
    } else {
      answer = await call("/api/plan", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
    }
  } catch (e) {
    text.textContent = e.message;
    show(roll, false);
    return;
  }
  if (!answer.plan) {
    text.textContent = answer.message;
    show(roll, false);
    return;
  }
  const plan = answer.plan;
  if (plan.kind === "motion") {
    const names = plan.objects.map((o) => [o.meta.colour, o.meta.shape, o.meta.motion]
      .filter(Boolean).join(" "));
    text.textContent = `${plan.objects.length} object(s): ${names.join("; ")} \u00b7 ` +
      `${plan.events.length} contact(s), ${plan.num_frames} frames at ${plan.fps} fps`;
    drawTracks(roll, plan);
    show(roll, true);
    return;
  }
  const meta = plan.meta || {};
  text.textContent = `${plan.notes.length} notes, ${plan.drums.length} drum hits, ` +
    `${plan.tempo_bpm} BPM, ${plan.duration_s} s` +
    (meta.instrument ? ` \u00b7 ${meta.instrument}` : "") + (meta.genre ? `, ${meta.genre}` : "");
  drawRoll(roll, plan);
  show(roll, true);
}

const COLOURS = { red: "#e5484d", green: "#46a758", blue: "#3e63dd", yellow: "#f5d90a",
  orange: "#f76b15", purple: "#8e4ec6", white: "#eeeeee", black: "#777777", pink: "#e93d82" };

function drawTracks(canvas, plan) {
  // each object's centre over time, left to right across the canvas; contacts as dots
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const xt = (k) => (k / Math.max(1, plan.num_frames - 1)) * w;
  for (const obj of plan.objects) {
    ctx.strokeStyle = COLOURS[obj.meta.colour] || "#6f8cff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    obj.frames.forEach((f, k) => {
      const y = Math.min(h - 2, Math.max(2, f.y * h));
      if (k === 0) ctx.moveTo(xt(k), y); else ctx.lineTo(xt(k), y);
    });
    ctx.stroke();
  }
  ctx.fillStyle = "#f0a04b";
  for (const e of plan.events) {
    ctx.beginPath();
    ctx.arc((e.t_s / plan.duration_s) * w, Math.min(h - 3, e.y * h), 3, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function drawRoll(canvas, plan) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  const pitches = plan.notes.map((n) => n.pitch);
  const lo = Math.min(...pitches, 60) - 2;
  const hi = Math.max(...pitches, 72) + 2;
  const x = (t) => (t / plan.duration_s) * w;
  ctx.fillStyle = "#2b3145";
  for (const b of plan.beats) ctx.fillRect(x(b), 0, 1, h);
  ctx.fillStyle = "#f0a04b";
  for (const d of plan.drums) ctx.fillRect(x(d.t_s), h - 6, 2, 6);
  ctx.fillStyle = "#6f8cff";
  for (const n of plan.notes) {
    const y = h - 8 - ((n.pitch - lo) / (hi - lo)) * (h - 12);
    ctx.fillRect(x(n.onset_s), y, Math.max(2, x(n.duration_s)), 4);
  }
}

// ---------------------------------------------------------------- wiring

for (const tab of document.querySelectorAll("#tabs button")) {
  tab.onclick = () => setKind(tab.dataset.kind);
}
for (const id of ["mood", "details", "length", "tempo", "scene", "motion", "style"]) {
  $(id).addEventListener("input", compose);
}
$("generate").onclick = generate;
$("cancel").onclick = cancel;
$("plan-button").onclick = showPlan;
loadModels().catch((e) => showError(e.message));
loadHistory();
health();
setInterval(health, 5000);
