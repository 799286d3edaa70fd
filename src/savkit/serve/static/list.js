// The video list: filters live in the page's query string; the server filters, sorts and pages.
"use strict";

const FIELDS = ["split", "environment", "size_bucket", "min_masklets", "max_masklets", "min_visibility_changes",
  "min_duration", "max_duration", "q", "run", "limit"];
let offset = 0;

function fillSelect(select, values) {
  for (const value of values) select.append(el("option", { value, text: value }));
}

function formToParams(form) {
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const value = form.elements[name].value.trim();
    if (value !== "") params.set(name, value);
  }
  const sort = form.elements.sort.value;
  if (sort !== "video_id" || form.elements.order.value) params.set("sort", form.elements.order.value + sort);
  if (offset) params.set("offset", String(offset));
  return params;
}

function paramsToForm(form, params) {
  for (const name of FIELDS) {
    form.elements[name].value = params.get(name) ?? (name === "limit" ? "50" : "");
  }
  const sort = params.get("sort") || "video_id";
  form.elements.order.value = sort.startsWith("-") ? "-" : "";
  form.elements.sort.value = sort.replace(/^-/, "");
  offset = Number(params.get("offset") || 0);
}

function videoRow(video) {
  const link = `/video/${encodeURIComponent(video.video_id)}`;
  const thumb = el("img", { class: "thumb", loading: "lazy", alt: "",
    src: `/api/videos/${encodeURIComponent(video.video_id)}/thumbnail.jpg` });
  return el("tr", { "data-video": video.video_id },
    el("td", {}, el("a", { href: link }, thumb)),
    el("td", {}, el("a", { href: link, class: "video-link", text: video.video_id })),
    el("td", { text: video.split }),
    el("td", { text: video.environment ?? "–" }),
    el("td", { class: "num", text: video.duration === null ? "–" : `${video.duration.toFixed(1)} s` }),
    el("td", { class: "num", text: video.width ? `${video.width}×${video.height}` : "–" }),
    el("td", { class: "num", text: video.n_manual }),
    el("td", { class: "num", text: video.n_auto }),
    el("td", { class: "num", text: video.visibility_changes }),
    el("td", { text: video.size_buckets.join(", ") }),
    el("td", { class: "num jf", text: fmt(video.jf) }));
}

async function load(form, push) {
  const params = formToParams(form);
  const url = params.toString() ? `/?${params}` : "/";
  if (push && url !== location.pathname + location.search) history.pushState(null, "", url);
  try {
    const page = await getJSON(`/api/videos?${params}`);
    const body = document.querySelector("#videos tbody");
    body.replaceChildren(...page.videos.map(videoRow));
    const last = page.offset + page.videos.length;
    document.getElementById("count").textContent = `${page.total} matching`;
    document.getElementById("range").textContent = page.total ? `${page.offset + 1}–${last} of ${page.total}` : "none";
    document.getElementById("prev").disabled = page.offset === 0;
    document.getElementById("next").disabled = last >= page.total;
    document.body.dataset.loaded = params.toString();
    showError("");
  } catch (error) {
    showError(error.message);
  }
}

async function start() {
  const form = document.getElementById("filters");
  addRunLinks();
  try {
    const facets = await getJSON("/api/facets");
    fillSelect(form.elements.split, facets.splits);
    fillSelect(form.elements.environment, facets.environments);
    fillSelect(form.elements.size_bucket, facets.size_buckets);
    if (facets.runs.length) fillSelect(form.elements.run, facets.runs);
    else form.elements.run.closest("label").hidden = true;
  } catch (error) {
    showError(error.message);
  }
  paramsToForm(form, new URLSearchParams(location.search));
  form.addEventListener("change", () => { offset = 0; load(form, true); });
  form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; load(form, true); });
  document.getElementById("prev").addEventListener("click", () => {
    offset = Math.max(0, offset - Number(form.elements.limit.value)); load(form, true);
  });
  document.getElementById("next").addEventListener("click", () => {
    offset += Number(form.elements.limit.value); load(form, true);
  });
  window.addEventListener("popstate", () => { paramsToForm(form, new URLSearchParams(location.search)); load(form, false); });
  load(form, false);
}

start();
