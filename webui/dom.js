// Tiny DOM helpers. Every piece of text goes through textContent / createTextNode: nothing
// here (or anywhere in the page) assigns HTML, so a file named `<img src=x onerror=…>` is text.

/** h("a", {href: "#/", class: "x"}, "text", child, …): an element; strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A date from milliseconds (or seconds) since the epoch. */
export function when(t) {
  if (t === undefined || t === null) return "—";
  const ms = t < 1e11 ? t * 1000 : t;
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A short duration, from milliseconds. */
export function duration(ms) {
  if (ms === undefined || ms === null || !isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

let statusTimer = 0;

/** Announces a message in the live region (and shows it for a few seconds; errors stay). */
export function status(text, kind = "info") {
  const el = document.getElementById("status");
  el.className = kind;
  el.textContent = text;
  clearTimeout(statusTimer);
  if (kind !== "error") statusTimer = setTimeout(() => { el.textContent = ""; }, 8000);
}

/** Asks in the modal dialog; resolves true when confirmed. */
export function confirmDialog(text, okLabel = "Delete") {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
    dlg.returnValue = "cancel";
    dlg.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}
