// The results page: the per-object table of a run (sortable, optionally beside a second run), an object's
// per-frame J and F curves, and its worst frames with the GT and the prediction drawn over the frame.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const runName = decodeURIComponent(location.pathname.split("/").pop());
const page = { run: null, other: null, sort: { key: "J&F", ascending: true }, selected: null };
const COLUMNS = [
  ["video", "video", false], ["object", "object", false], ["J&F", "J&F", true], ["J", "J", true], ["F", "F", true],
  ["J_recall", "J recall", true], ["F_recall", "F recall", true], ["J_decay", "J decay", true], ["F_decay", "F decay", true],
];

function key(obj) { return `${obj.video}/${obj.object}`; }

function columns() {
  if (!page.other) return COLUMNS;
  return [...COLUMNS.slice(0, 3), ["other", `J&F ${page.other.run}`, true], ["delta", "Δ J&F", true], ...COLUMNS.slice(3)];
}

function rows() {
  const others = new Map((page.other ? page.other.objects : []).map((o) => [key(o), o]));
  return page.run.objects.map((o) => {
    const other = others.get(key(o));
    return { ...o, other: other ? other["J&F"] : null, delta: other ? other["J&F"] - o["J&F"] : null };
  });
}

function sorted(list) {
  const { key: name, ascending } = page.sort;
  const sign = ascending ? 1 : -1;
  return [...list].sort((a, b) => {
    const x = a[name], y = b[name];
    if (x === null) return 1;
    if (y === null) return -1;
    return (x < y ? -1 : x > y ? 1 : 0) * sign || a.index - b.index;
  });
}

function renderTable() {
  const header = document.getElementById("header");
  header.replaceChildren(...columns().map(([name, label, numeric]) => {
    const arrow = page.sort.key === name ? (page.sort.ascending ? " ▲" : " ▼") : "";
    return el("th", { class: `sortable${numeric ? " num" : ""}`, "data-key": name, text: label + arrow,
      onclick: () => {
        page.sort = { key: name, ascending: page.sort.key === name ? !page.sort.ascending : true };
        renderTable();
      } });
  }));
  const body = document.querySelector("#objects tbody");
  body.replaceChildren(...sorted(rows()).map((row) => {
    const cells = columns().map(([name, , numeric]) => {
      if (name === "video") return el("td", {}, el("a", { href: `/video/${encodeURIComponent(row.video)}`, text: row.video }));
      const cell = el("td", { class: numeric ? "num" : "", text: numeric ? fmt(row[name]) : row[name] });
      if (name === "delta" && row.delta !== null) cell.classList.add(row.delta >= 0 ? "delta-up" : "delta-down");
      return cell;
    });
    const tr = el("tr", { "data-index": row.index, class: page.selected === row.index ? "selected" : "" }, ...cells);
    tr.addEventListener("click", (event) => { if (event.target.tagName !== "A") select(row.index); });
    return tr;
  }));
}

function curve(values, width, height, margin) {
  const step = values.length > 1 ? (width - 2 * margin) / (values.length - 1) : 0;
  return values.map((v, i) => `${(margin + i * step).toFixed(1)},${(height - margin - v * (height - 2 * margin)).toFixed(1)}`).join(" ");
}

function renderCurves(obj) {
  const svg = document.getElementById("curves");
  const width = Number(svg.getAttribute("width")), height = Number(svg.getAttribute("height")), margin = 20;
  const node = (tag, attributes) => {
    const element = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    return element;
  };
  const children = [
    node("line", { class: "axis", x1: margin, y1: height - margin, x2: width - margin, y2: height - margin }),
    node("line", { class: "axis", x1: margin, y1: margin, x2: margin, y2: height - margin }),
    node("polyline", { class: "j", points: curve(obj.J_frames, width, height, margin) }),
    node("polyline", { class: "f", points: curve(obj.F_frames, width, height, margin) }),
  ];
  const first = node("text", { x: margin, y: height - 5 }); first.textContent = obj.frames[0];
  const last = node("text", { x: width - margin - 30, y: height - 5 }); last.textContent = obj.frames[obj.frames.length - 1];
  const top = node("text", { x: 2, y: margin + 3 }); top.textContent = "1";
  svg.replaceChildren(...children, first, last, top);
}

function renderWorst(obj) {
  const box = document.getElementById("worst");
  box.replaceChildren(...obj.worst_frames.map((frameName) => {
    const i = obj.frames.indexOf(frameName);
    const base = `/api/results/${encodeURIComponent(page.run.run)}/objects/${obj.index}/frames/${frameName}.jpg`;
    const figure = (kind, caption) => el("figure", {}, el("img", { src: `${base}?mask=${kind}`, alt: `${caption}, frame ${frameName}`, "data-kind": kind }),
      el("figcaption", { text: caption }));
    return el("div", {},
      el("p", { text: `frame ${frameName}: J ${obj.J_frames[i].toFixed(3)}, F ${obj.F_frames[i].toFixed(3)}` }),
      el("div", { class: "side-by-side" }, figure("gt", "GT"), figure("pred", "prediction")));
  }));
}

function select(index) {
  page.selected = index;
  const obj = page.run.objects[index];
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-title").textContent = `${obj.video} object ${obj.object}: J&F ${fmt(obj["J&F"])}`;
  renderCurves(obj);
  renderWorst(obj);
  renderTable();
}

async function compareWith(name) {
  page.other = name ? await getJSON(`/api/results/${encodeURIComponent(name)}`) : null;
  const params = new URLSearchParams(location.search);
  if (name) params.set("compare", name); else params.delete("compare");
  history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
  renderTable();
}

async function start() {
  addRunLinks();
  try {
    page.run = await getJSON(`/api/results/${encodeURIComponent(runName)}`);
    const { runs } = await getJSON("/api/results");
    const g = page.run.global || {};
    document.title = `savkit serve: ${page.run.run}`;
    document.getElementById("title").textContent = `Results: ${page.run.run}`;
    document.getElementById("summary").textContent =
      `${page.run.protocol} protocol, ${page.run.objects.length} objects in ${page.run.videos} videos; ` +
      `global J&F ${fmt(g["J&F"])}, J ${fmt(g.J)}, F ${fmt(g.F)}; ${page.run.path}`;
    const selectBox = document.getElementById("compare");
    for (const run of runs) if (run.run !== page.run.run) selectBox.append(el("option", { value: run.run, text: run.run }));
    selectBox.closest("p").hidden = runs.length < 2;
    selectBox.addEventListener("change", () => compareWith(selectBox.value).catch((e) => showError(e.message)));
    const wanted = new URLSearchParams(location.search).get("compare");
    if (wanted && runs.some((r) => r.run === wanted && r.run !== page.run.run)) {
      selectBox.value = wanted;
      await compareWith(wanted);
    } else {
      renderTable();
    }
    document.body.dataset.loaded = "yes";
  } catch (error) {
    showError(error.message);
  }
}

start();
