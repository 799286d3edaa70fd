// The video page: one annotated frame drawn by the server, stepped with a slider, the arrow keys or playback.
"use strict";

const PLAYBACK_FPS = 6;
const videoId = decodeURIComponent(location.pathname.split("/").pop());
const api = `/api/videos/${encodeURIComponent(videoId)}`;
const state = { video: null, k: 0, count: 0, mode: "manual", hidden: { manual: new Set(), auto: new Set() }, timer: null, loading: false };
const frame = document.getElementById("frame");

function frameUrl(k) {
  const params = new URLSearchParams({ overlay: state.mode });
  if (state.mode !== "none") {
    const hidden = state.hidden[state.mode];
    if (hidden.size) {
      const shown = state.video.masklets.filter((m) => m.type === state.mode && !hidden.has(m.masklet_id));
      params.set("masklets", shown.map((m) => m.masklet_id).join(","));
    }
  }
  return `${api}/frames/${k}.jpg?${params}`;
}

function show(k) {
  if (!state.count) return;
  state.k = Math.min(Math.max(k, 0), state.count - 1);
  document.getElementById("slider").value = String(state.k);
  document.getElementById("frame-label").textContent =
    `annotated frame ${state.k} / ${state.count - 1} (video frame ${4 * state.k})`;
  state.loading = true;
  frame.src = frameUrl(state.k);
  drawTimelines();
}

function fitFrame() {
  // as large as fits: at most 960 pixels wide and three quarters of the window high (portrait videos too)
  const scale = Math.min(960 / frame.naturalWidth, (0.92 * innerWidth) / frame.naturalWidth,
    (0.75 * innerHeight) / frame.naturalHeight);
  frame.style.width = `${Math.round(frame.naturalWidth * scale)}px`;
}
window.addEventListener("resize", () => { if (frame.naturalWidth) fitFrame(); });

frame.addEventListener("load", () => {
  state.loading = false;
  fitFrame();
  document.body.dataset.frame = String(state.k);
  document.body.dataset.src = frame.getAttribute("src");
  // the next frame is drawn ahead (the server streams forward cheaply), so → and playback find it ready
  if (state.k + 1 < state.count) new Image().src = frameUrl(state.k + 1);
});
frame.addEventListener("error", async () => {
  state.loading = false;
  try { await getJSON(frame.src); } catch (error) { showError(error.message); }
});

function play(on) {
  const button = document.getElementById("play");
  if (!on) {
    clearInterval(state.timer);
    state.timer = null;
    button.textContent = "▶ play";
    return;
  }
  if (state.k >= state.count - 1) show(0);
  button.textContent = "❚❚ pause";
  state.timer = setInterval(() => {
    if (state.loading) return;  // never queue frames faster than the server draws them
    if (state.k >= state.count - 1) play(false);
    else show(state.k + 1);
  }, 1000 / PLAYBACK_FPS);
}

function drawTimeline(canvas, masklet) {
  const context = canvas.getContext("2d");
  const width = canvas.width, height = canvas.height, cell = width / Math.max(state.count, 1);
  context.clearRect(0, 0, width, height);
  context.fillStyle = "#e4e4e1";
  context.fillRect(0, 0, width, height);
  context.fillStyle = rgb(masklet.colour);
  masklet.areas.forEach((area, k) => { if (area > 0) context.fillRect(k * cell, 2, Math.max(cell, 1), height - 4); });
  context.fillStyle = "#111";
  context.fillRect(state.k * cell + cell / 2 - 1, 0, 2, height);
}

function drawTimelines() {
  for (const canvas of document.querySelectorAll("canvas.timeline")) {
    const masklet = state.video.masklets[Number(canvas.dataset.index)];
    drawTimeline(canvas, masklet);
  }
}

function maskletRow(masklet, index) {
  const label = `${masklet.type[0]}${masklet.masklet_id}`;
  const toggle = el("input", { type: "checkbox", checked: !state.hidden[masklet.type].has(masklet.masklet_id),
    "data-masklet": label, "aria-label": `show ${label}` });
  toggle.addEventListener("change", () => {
    const hidden = state.hidden[masklet.type];
    if (toggle.checked) hidden.delete(masklet.masklet_id); else hidden.add(masklet.masklet_id);
    show(state.k);
  });
  const canvas = el("canvas", { class: "timeline", width: 240, height: 14, "data-index": index,
    title: `where ${label} is visible` });
  canvas.addEventListener("click", (event) => {
    show(Math.floor((event.offsetX / canvas.clientWidth) * state.count));
  });
  const swatch = el("span", { class: "swatch" });
  swatch.style.background = rgb(masklet.colour);
  const details = [masklet.size_bucket, `${masklet.visibility_changes} visibility changes`];
  if (masklet.stability_score !== null) details.push(`stability ${masklet.stability_score.toFixed(3)}`);
  return el("tr", { "data-type": masklet.type },
    el("td", {}, toggle), el("td", {}, swatch), el("td", { text: label }), el("td", { text: masklet.type }),
    el("td", { class: "muted", text: details.join(", ") }), el("td", {}, canvas));
}

function renderMasklets() {
  const body = document.getElementById("masklets");
  const rows = state.video.masklets.map((m, i) => [m, i]).filter(([m]) => m.type === state.mode);
  body.replaceChildren(...rows.map(([m, i]) => maskletRow(m, i)));
  document.getElementById("masklet-count").textContent = state.mode === "none" ? "(overlay off)" : `(${rows.length} ${state.mode})`;
  drawTimelines();
}

function renderScores(objects) {
  const box = document.getElementById("scores");
  for (const [run, list] of Object.entries(objects)) {
    if (!list.length) continue;
    box.append(el("h2", {}, "J&F in ", el("a", { href: `/results/${encodeURIComponent(run)}`, text: run })));
    box.append(el("table", {}, el("tbody", {}, ...list.map((o) => el("tr", {},
      el("td", { text: `object ${o.object}` }), el("td", { class: "num", text: fmt(o["J&F"]) }))))));
  }
}

let hoverTimer = null;
function hover(event) {
  const tooltip = document.getElementById("tooltip");
  if (state.mode === "none" || !frame.naturalWidth) { tooltip.style.display = "none"; return; }
  const x = Math.floor((event.offsetX / frame.clientWidth) * frame.naturalWidth);
  const y = Math.floor((event.offsetY / frame.clientHeight) * frame.naturalHeight);
  clearTimeout(hoverTimer);
  hoverTimer = setTimeout(async () => {
    const hidden = state.hidden[state.mode];
    const { masklets } = await getJSON(`${api}/frames/${state.k}/masklets?overlay=${state.mode}&x=${x}&y=${y}`);
    const shown = masklets.filter((m) => !hidden.has(m.id));
    if (!shown.length) { tooltip.style.display = "none"; return; }
    tooltip.textContent = shown.map((m) => {
      const score = m.stability_score === null ? "" : `, stability ${m.stability_score.toFixed(3)}`;
      return `${m.type[0]}${m.id}: ${m.type}, area ${m.area.toLocaleString()} px${score}`;
    }).join(" · ");
    tooltip.style.left = `${event.offsetX + 12}px`;
    tooltip.style.top = `${event.offsetY + 12}px`;
    tooltip.style.display = "block";
  }, 60);
}

async function start() {
  addRunLinks();
  try {
    state.video = await getJSON(api);
  } catch (error) {
    showError(error.message);
    return;
  }
  const v = state.video;
  document.title = `savkit serve: ${v.video_id}`;
  document.getElementById("title").textContent = v.video_id;
  const duration = v.duration === null ? "" : `, ${v.duration.toFixed(1)} s`;
  const noFrames = v.has_frames ? "" : " — no video frames on disk: masks drawn on grey";
  document.getElementById("meta").textContent =
    `${v.split}, ${v.environment ?? "no environment"}, ${v.width}×${v.height}${duration}, ${v.n_manual} manual and ${v.n_auto} auto masklets${noFrames}`;
  state.count = v.annotated_frames;
  if (!v.n_manual && v.n_auto) state.mode = "auto";
  document.querySelector(`#mode input[value=${state.mode}]`).checked = true;
  const slider = document.getElementById("slider");
  slider.max = String(Math.max(state.count - 1, 0));
  slider.addEventListener("input", () => show(Number(slider.value)));
  document.getElementById("prev").addEventListener("click", () => show(state.k - 1));
  document.getElementById("next").addEventListener("click", () => show(state.k + 1));
  document.getElementById("play").addEventListener("click", () => play(!state.timer));
  for (const radio of document.querySelectorAll("#mode input")) {
    radio.addEventListener("change", () => { state.mode = radio.value; renderMasklets(); show(state.k); });
  }
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" && event.target.type !== "range" && event.target.type !== "checkbox") return;
    if (event.key === "ArrowRight") { event.preventDefault(); show(state.k + 1); }
    else if (event.key === "ArrowLeft") { event.preventDefault(); show(state.k - 1); }
    else if (event.key === " ") { event.preventDefault(); play(!state.timer); }
  });
  frame.addEventListener("mousemove", hover);
  frame.addEventListener("mouseleave", () => { document.getElementById("tooltip").style.display = "none"; });
  renderMasklets();
  renderScores(v.objects);
  show(0);
}

start();
