// savkit serve: helpers shared by the three pages (plain browser JavaScript, no libraries).
"use strict";

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function fmt(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return value.toFixed(digits);
  return String(value);
}

function rgb(colour) {
  return `rgb(${colour[0]}, ${colour[1]}, ${colour[2]})`;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
}

async function addRunLinks() {
  const nav = document.getElementById("runs-nav");
  if (!nav) return;
  try {
    const { runs } = await getJSON("/api/results");
    for (const run of runs) {
      nav.append(el("a", { href: `/results/${encodeURIComponent(run.run)}`, text: `results: ${run.run}` }));
    }
  } catch (error) {
    showError(error.message);
  }
}
