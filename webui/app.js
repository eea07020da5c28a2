// The page: a hash router over the views. Every view builds its DOM with h() (text only).
import { api, token, bitmaskMembership, APIError } from "./api.js";
import { h, replace, when, duration, status, confirmDialog } from "./dom.js";
import { ScatterMap } from "./map.js";

const main = () => document.getElementById("main");
let cleanup = [];

function onLeave(fn) { cleanup.push(fn); }

async function route(event) {
  for (const fn of cleanup.splice(0)) { try { fn(); } catch { /* ignore */ } }
  const nav = document.getElementById("nav");
  if (!token.get()) { nav.hidden = true; return signIn(); }
  nav.hidden = false;
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of nav.querySelectorAll("a")) {
    const current = (a.getAttribute("href") === "#/jobs") === (parts[0] === "jobs");
    if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const fromHashChange = event && event.type === "hashchange";
  try {
    if (parts[0] === "jobs") await jobsView();
    else if (parts[0] === "d" && parts[2] === "sample") await sampleView(parts[1], parts[3]);
    else if (parts[0] === "d") await datasetView(parts[1], parts[2] || "samples", parts[3]);
    else await datasetsView();
    // After a navigation, start keyboard and screen-reader users at the new content.
    if (fromHashChange && (document.activeElement === document.body || !document.activeElement)) main().focus({ preventScroll: true });
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return;
    replace(main(), h("h1", {}, "Something went wrong"), h("p", { class: "error", role: "alert" }, e.message));
  }
}

// MARK: sign-in

function signIn() {
  document.title = "Sign in · Lightly server";
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const err = h("p", { class: "error", role: "alert", id: "signin-error" });
  const form = h("form", { class: "card narrow", id: "signin" },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "Use an API token of this server (", h("code", {}, "lightly-server token create --name NAME"),
      "). It is kept in this tab only and sent in a header, never in an address."),
    h("label", { for: "token" }, "API token"), input,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Sign in")), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    token.set(input.value.trim());
    try {
      await api("/v1/datasets", { notify401: false });
      input.value = "";
      route();
    } catch (x) {
      token.clear();
      err.textContent = x.status === 401 ? "That token is not known to this server." : x.message;
    }
  });
  replace(main(), form);
  input.focus();
}

function signOut() {
  token.clear();
  location.hash = "#/";
  status("Signed out.");
  route();
}

// MARK: datasets

async function datasetsView() {
  document.title = "Datasets · Lightly server";
  // The user's own datasets, and those other users shared with them (a team on a LAN).
  const [list, shared] = await Promise.all([api("/ui-api/datasets"), api("/ui-api/datasets?shared=true")]);
  list.sort((a, b) => b.createdAt - a.createdAt);
  shared.sort((a, b) => b.createdAt - a.createdAt);
  const name = h("input", { id: "new-dataset", name: "name", required: true, maxlength: 200, autocomplete: "off" });
  const create = h("form", { class: "row wrap", id: "create-dataset" },
    h("label", { for: "new-dataset" }, "New dataset"), name,
    h("button", { type: "submit", class: "primary" }, "Create"));
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await api("/v1/datasets", { method: "POST", body: { name: name.value.trim(), type: "Images" } });
      status(`Created dataset ${name.value.trim()}.`);
      location.hash = `#/d/${encodeURIComponent(r.id)}`;
    } catch (x) { status(x.message, "error"); }
  });
  const rows = list.map((d) => h("tr", {},
    h("td", {}, h("a", { href: `#/d/${encodeURIComponent(d.id)}`, class: "dataset-link" }, d.name)),
    h("td", { class: "num" }, d.nSamples.toLocaleString()),
    h("td", { class: "num" }, String(d.nEmbeddings ?? 0)),
    h("td", { class: "num" }, String(d.nTags ?? 0)),
    h("td", {}, when(d.createdAt)),
    h("td", {}, h("button", {
      type: "button", class: "danger small", "aria-label": `Delete dataset ${d.name}`,
      onclick: async () => {
        if (!(await confirmDialog(`Delete the dataset “${d.name}” with its ${d.nSamples} samples? This cannot be undone.`))) return;
        try { await api(`/v1/datasets/${encodeURIComponent(d.id)}`, { method: "DELETE" }); status(`Deleted ${d.name}.`); route(); }
        catch (x) { status(x.message, "error"); }
      },
    }, "Delete"))));
  const sharedRows = shared.map((d) => h("tr", {},
    h("td", {}, h("a", { href: `#/d/${encodeURIComponent(d.id)}`, class: "dataset-link" }, d.name)),
    h("td", { class: "num" }, d.nSamples.toLocaleString()),
    h("td", { class: "num" }, String(d.nEmbeddings ?? 0)),
    h("td", { class: "num" }, String(d.nTags ?? 0)),
    h("td", {}, when(d.createdAt))));
  replace(main(),
    h("h1", {}, "Datasets"),
    create,
    list.length === 0 ? h("p", { class: "muted" }, "No datasets of your own yet. Create one here or upload with the lightly client.")
      : h("div", { class: "table-wrap" }, h("table", { id: "datasets" },
        h("caption", { class: "sr-only" }, "Your datasets"),
        h("thead", {}, h("tr", {}, ["Name", "Samples", "Embeddings", "Tags", "Created", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows))),
    ...(shared.length === 0 ? [] : [
      h("h2", {}, "Shared with you"),
      h("div", { class: "table-wrap" }, h("table", { id: "shared-datasets" },
        h("caption", { class: "sr-only" }, "Datasets other users shared with you"),
        h("thead", {}, h("tr", {}, ["Name", "Samples", "Embeddings", "Tags", "Created"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, sharedRows)))]));
}

// MARK: a dataset

const TABS = [["samples", "Samples"], ["map", "Map"], ["select", "Run a selection"], ["export", "Export"]];

async function datasetView(id, tab, tagId) {
  const enc = encodeURIComponent;
  const [ds, tags, embeddings] = await Promise.all([
    api(`/v1/datasets/${enc(id)}`), api(`/ui-api/datasets/${enc(id)}/tags`), api(`/v1/datasets/${enc(id)}/embeddings`),
  ]);
  document.title = `${ds.name} · Lightly server`;
  tags.sort((a, b) => a.createdAt - b.createdAt);
  const tag = tags.find((t) => t.id === tagId) || tags.find((t) => t.name === "initial-tag") || tags[0];
  const link = (t, tb = tab) => `#/d/${enc(id)}/${tb}/${t ? enc(t.id) : ""}`;

  // The tag tree: each tag under its parent (prevTagId).
  const children = new Map();
  for (const t of tags) {
    const parent = tags.some((p) => p.id === t.prevTagId) ? t.prevTagId : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(t);
  }
  const method = (t) => (t.creator || "").startsWith("SAMPLER_") ? t.creator.slice(8) : (t.creator || "—");
  const tree = (parent) => {
    const items = children.get(parent) || [];
    if (!items.length) return null;
    return h("ul", {},
      items.map((t) => h("li", {},
        h("a", { href: link(t), class: t === tag ? "tag current" : "tag", "aria-current": t === tag ? "true" : undefined, dataset: { tagName: t.name } },
          h("span", { class: "tag-name" }, t.name),
          h("span", { class: "tag-meta" }, `${t.size.toLocaleString()} · ${method(t)} · ${when(t.createdAt)}`)),
        tree(t.id))));
  };

  const panel = h("section", { class: "panel", id: "panel", "aria-live": "polite" });
  replace(main(),
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Datasets"), " / ", h("span", {}, ds.name)),
    h("h1", { id: "dataset-name" }, ds.name),
    h("p", { class: "muted" }, `${ds.nSamples.toLocaleString()} samples · ${embeddings.length} embedding(s) · ${tags.length} tag(s) · created ${when(ds.createdAt)}`),
    h("div", { class: "dataset" },
      h("aside", { class: "tags card", "aria-labelledby": "tags-title" },
        h("h2", { id: "tags-title" }, "Tags"),
        tags.length ? h("nav", { "aria-label": "Tag tree" }, tree(null)) : h("p", { class: "muted" }, "No tags yet: upload samples with the client.")),
      h("div", { class: "work" },
        h("nav", { class: "tabs", "aria-label": "Views of the tag" },
          TABS.map(([k, label]) => h("a", { href: link(tag, k), "aria-current": k === tab ? "page" : undefined, id: `tab-${k}` }, label))),
        tag ? h("h2", { class: "tag-title" }, tag.name, h("span", { class: "muted" }, ` · ${tag.size.toLocaleString()} samples · ${method(tag)}`)) : null,
        panel)));
  const context = { id, ds, tags, tag, embeddings, panel, link };
  if (!tag) { replace(panel, h("p", { class: "muted" }, "Nothing to show yet.")); return; }
  if (tab === "map") await mapPanel(context);
  else if (tab === "select") selectPanel(context);
  else if (tab === "export") exportPanel(context);
  else await samplesPanel(context, 0);
  performance.mark("dataset-rendered");
}

async function samplesPanel({ id, tag, panel }, offset) {
  const pageSize = 48;
  const page = await api(`/ui-api/datasets/${encodeURIComponent(id)}/tags/${encodeURIComponent(tag.id)}/samples`,
    { query: { pageSize, pageOffset: offset } });
  const pager = h("nav", { class: "row pager", "aria-label": "Pages" },
    h("button", { type: "button", disabled: offset === 0, onclick: () => samplesPanel({ id, tag, panel }, Math.max(0, offset - pageSize)) }, "← Previous"),
    h("span", {}, page.total ? `${offset + 1}–${offset + page.samples.length} of ${page.total.toLocaleString()}` : "No samples"),
    h("button", { type: "button", disabled: offset + pageSize >= page.total, onclick: () => samplesPanel({ id, tag, panel }, offset + pageSize) }, "Next →"));
  replace(panel, pager, h("ul", { class: "grid", id: "samples", "aria-label": `Samples of ${tag.name}` },
    page.samples.map((s) => h("li", {},
      h("a", { href: `#/d/${encodeURIComponent(id)}/sample/${encodeURIComponent(s.id)}`, class: "thumb", dataset: { fileName: s.fileName } },
        s.imageUrl ? h("img", { src: s.imageUrl, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }) : h("span", { class: "noimg" }, "no image"),
        h("span", { class: "fname" }, s.fileName))))));
}

async function sampleView(id, sampleId) {
  const enc = encodeURIComponent;
  const [ds, s, tags] = await Promise.all([
    api(`/v1/datasets/${enc(id)}`), api(`/v1/datasets/${enc(id)}/samples/${enc(sampleId)}`), api(`/v1/datasets/${enc(id)}/tags`),
  ]);
  document.title = `${s.fileName} · Lightly server`;
  const image = h("div", { class: "sample-image" }, h("span", { class: "muted" }, "no image uploaded"));
  const idx = s.index;
  const member = tags.filter((t) => idx !== undefined && bitmaskMembership(t.bitMaskData, idx + 1)[idx]);
  const pre = (v) => h("pre", {}, v === undefined || v === null ? "—" : JSON.stringify(v, null, 2));
  const scores = h("tbody", {});
  replace(main(),
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Datasets"), " / ",
      h("a", { href: `#/d/${enc(id)}` }, ds.name), " / ", h("span", {}, s.fileName)),
    h("h1", { id: "sample-name" }, s.fileName),
    h("div", { class: "sample" }, image,
      h("div", {},
        h("dl", { class: "facts" },
          h("dt", {}, "Sample id"), h("dd", {}, h("code", {}, s.id)),
          h("dt", {}, "Index"), h("dd", {}, String(idx ?? "—")),
          h("dt", {}, "Created"), h("dd", {}, when(s.createdAt)),
          h("dt", {}, "Tags"), h("dd", {}, member.map((t) => t.name).join(", ") || "—")),
        h("h2", {}, "Scores"),
        h("table", { class: "compact" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Tag"), h("th", { scope: "col" }, "Score type"), h("th", { scope: "col" }, "Value"))), scores),
        h("h2", {}, "Metadata"), pre(s.metaData),
        h("h2", {}, "Custom metadata"), pre(s.customMetaData),
        h("h2", {}, "EXIF"), pre(s.exif))));
  try {
    const url = await api(`/v1/datasets/${enc(id)}/samples/${enc(sampleId)}/readurl`, { query: { type: "full" } });
    replace(image, h("img", { src: url, alt: `Image of ${s.fileName}`, referrerpolicy: "no-referrer" }));
  } catch { /* no image */ }
  // Scores are stored per tag, one value per sample of the tag in mapping order.
  for (const t of member) {
    let list = [];
    try { list = await api(`/v1/datasets/${enc(id)}/tags/${enc(t.id)}/scores`); } catch { continue; }
    const bits = bitmaskMembership(t.bitMaskData, idx + 1);
    let pos = 0; for (let i = 0; i < idx; i++) pos += bits[i];
    for (const sc of list) {
      const full = await api(`/v1/datasets/${enc(id)}/tags/${enc(t.id)}/scores/${enc(sc.id)}`);
      const v = (full.scores || [])[pos];
      scores.appendChild(h("tr", {}, h("td", {}, t.name), h("td", {}, sc.scoreType || full.scoreType), h("td", { class: "num" }, v === undefined ? "—" : Number(v).toFixed(4))));
    }
  }
  if (!scores.children.length) scores.appendChild(h("tr", {}, h("td", { colspan: 3, class: "muted" }, "No scores uploaded for the tags of this sample.")));
}

async function mapPanel({ id, tags, tag, embeddings, panel }) {
  const enc = encodeURIComponent;
  const emb = [...embeddings].reverse().find((e) => e.is2d) || null;
  if (!emb) { replace(panel, h("p", { class: "muted" }, "No 2-D projection yet: upload embeddings with the client (it asks for the projection).")); return; }
  replace(panel, h("p", { class: "muted" }, "Loading the map…"));
  const buf = await api(`/ui-api/datasets/${enc(id)}/embeddings/${enc(emb.id)}/points`, { as: "bytes" });
  let xy;
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] === 1) xy = new Float32Array(buf);
  else { const dv = new DataView(buf); xy = new Float32Array(buf.byteLength / 4); for (let i = 0; i < xy.length; i++) xy[i] = dv.getFloat32(4 * i, true); }
  const n = xy.length / 2;
  const options = (sel) => [h("option", { value: "" }, "—"), tags.map((t) => h("option", { value: t.id, selected: t === sel }, `${t.name} (${t.size})`))];
  const prevTag = tags.find((t) => t.id === tag.preselectedTagId) || null;
  const selA = h("select", { id: "map-tag-a" }, options(tag));
  const selB = h("select", { id: "map-tag-b" }, options(prevTag));
  const legend = h("ul", { class: "legend", "aria-label": "Legend" });
  const canvas = h("canvas", { id: "map", tabindex: 0, role: "img", "aria-label": `Embedding map of ${n} samples; drag or use the arrow keys to pan, + and - to zoom, 0 to reset, n and p to step through the points` });
  const tip = h("div", { class: "tip", hidden: true, id: "map-tip" });
  let names = null, ids = null;
  const lookups = () => names ? Promise.resolve() : Promise.all([
    api(`/v1/datasets/${enc(id)}/mappings`, { query: { field: "fileName" } }),
    api(`/v1/datasets/${enc(id)}/mappings`, { query: { field: "_id" } }),
  ]).then(([a, b]) => { names = a; ids = b; });
  let hoverSeq = 0;
  const map = new ScatterMap(canvas, xy, async (i, x, y) => {
    const seq = ++hoverSeq;
    if (i === null) { tip.hidden = true; return; }
    await lookups();
    if (seq !== hoverSeq) return;
    const img = h("img", { alt: "", referrerpolicy: "no-referrer" });
    replace(tip, h("span", { class: "tip-name" }, names[i] ?? `#${i}`), img);
    if (document.activeElement === canvas) status(`Point ${i + 1} of ${n}: ${names[i] ?? ""}`);
    tip.style.left = `${Math.min(x + 14, canvas.clientWidth - 180)}px`;
    tip.style.top = `${y + 14}px`;
    tip.hidden = false;
    for (const type of ["thumbnail", "full"]) {
      try { img.src = await api(`/v1/datasets/${enc(id)}/samples/${enc(ids[i])}/readurl`, { query: { type } }); break; } catch { /* next */ }
    }
  });
  onLeave(() => map.destroy());
  const update = () => {
    const a = tags.find((t) => t.id === selA.value), b = tags.find((t) => t.id === selB.value);
    map.setMembership(a ? bitmaskMembership(a.bitMaskData, n) : null, b ? bitmaskMembership(b.bitMaskData, n) : null);
    const [rest, onlyB, onlyA, both] = map.counts;
    replace(legend,
      h("li", {}, h("span", { class: "sw a" }), `selected: ${(onlyA + both).toLocaleString()}`),
      h("li", {}, h("span", { class: "sw b" }), `preselected: ${(onlyB + both).toLocaleString()}`),
      h("li", {}, h("span", { class: "sw rest" }), `rest: ${rest.toLocaleString()}`));
  };
  selA.addEventListener("change", update);
  selB.addEventListener("change", update);
  replace(panel,
    h("div", { class: "row wrap controls" },
      h("label", { for: "map-tag-a" }, "Selected tag"), selA,
      h("label", { for: "map-tag-b" }, "Preselected tag"), selB,
      h("button", { type: "button", "aria-label": "Zoom in", onclick: () => map.zoomAt(1.25, canvas.width / 2, canvas.height / 2) }, "+"),
      h("button", { type: "button", "aria-label": "Zoom out", onclick: () => map.zoomAt(0.8, canvas.width / 2, canvas.height / 2) }, "−"),
      h("button", { type: "button", onclick: () => map.resetView() }, "Reset view")),
    legend,
    h("div", { class: "map-wrap" }, canvas, tip),
    h("p", { class: "muted small" }, `${n.toLocaleString()} points of “${emb.name}”, ${buf.byteLength / Math.max(1, n)} bytes per point on the wire.`));
  update();
}

function selectPanel({ id, tags, tag, embeddings, panel, link }) {
  const enc = encodeURIComponent;
  const field = (label, control) => [h("label", { for: control.id }, label), control];
  const tagOptions = (sel) => [h("option", { value: "" }, "—"), tags.map((t) => h("option", { value: t.id, selected: t === sel }, `${t.name} (${t.size})`))];
  const method = h("select", { id: "sel-method", name: "method" }, ["CORESET", "RANDOM", "CORAL", "ACTIVE_LEARNING"].map((m) => h("option", { value: m }, m)));
  const count = h("input", { id: "sel-n", name: "n", type: "number", min: 1, step: 1, required: true, value: Math.min(100, tag.size) });
  const name = h("input", { id: "sel-name", name: "newTagName", required: true, autocomplete: "off", value: "" });
  const query = h("select", { id: "sel-query" }, tagOptions(tag));
  const pre = h("select", { id: "sel-pre" }, tagOptions(null));
  const score = h("input", { id: "sel-score", name: "scoreType", autocomplete: "off", placeholder: "e.g. uncertainty_margin" });
  const emb = h("select", { id: "sel-embedding" }, [...embeddings].reverse().map((e) => h("option", { value: e.id }, e.name)));
  const progress = h("progress", { id: "sel-progress", max: 1, value: 0, hidden: true, "aria-label": "Selection progress" });
  const out = h("p", { id: "sel-status", role: "status" });
  const submit = h("button", { type: "submit", class: "primary", id: "sel-run" }, "Run selection");
  const syncName = () => { name.value = `${method.value.toLowerCase().replace("_", "-")}-${count.value}`; };
  method.addEventListener("change", syncName); count.addEventListener("input", syncName); syncName();
  const form = h("form", { class: "card form-grid", id: "selection" },
    field("Method", method), field("Number of samples", count), field("New tag name", name),
    field("Query tag", query), field("Preselected tag", pre), field("Score type (CORAL, ACTIVE_LEARNING)", score),
    field("Embedding", emb),
    h("div", { class: "row span" }, submit, progress), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!emb.value) { out.textContent = "This dataset has no embedding to select with."; out.className = "error"; return; }
    submit.disabled = true; out.className = ""; out.textContent = "Starting…";
    try {
      const body = { newTagName: name.value.trim(), method: method.value, config: { stoppingCondition: { nSamples: Number(count.value) } } };
      if (query.value) body.queryTagId = query.value;
      if (pre.value) body.preselectedTagId = pre.value;
      if (score.value.trim()) body.scoreType = score.value.trim();
      const { jobId } = await api(`/v1/datasets/${enc(id)}/embeddings/${enc(emb.value)}/sampling`, { method: "POST", body });
      progress.hidden = false;
      for (;;) {
        const job = await api(`/v1/jobs/${enc(jobId)}`);
        if (job.meta && job.meta.total) { progress.max = job.meta.total; progress.value = job.meta.processed; }
        out.textContent = `Job ${job.status.toLowerCase()}${job.meta && job.meta.total ? ` (${job.meta.processed}/${job.meta.total})` : ""}…`;
        if (job.status === "FINISHED") {
          status(`Selection finished: tag ${body.newTagName}.`);
          location.hash = link({ id: job.result && job.result.data }, "samples");
          return;
        }
        if (job.status === "FAILED") throw new Error(job.error || "the job failed");
        await new Promise((r) => setTimeout(r, 300));
      }
    } catch (x) {
      out.className = "error"; out.setAttribute("role", "alert"); out.textContent = x.message; submit.disabled = false; progress.hidden = true;
    }
  });
  replace(panel, form);
}

function exportPanel({ id, tag, panel }) {
  const base = `/v1/datasets/${encodeURIComponent(id)}/tags/${encodeURIComponent(tag.id)}/export`;
  const safe = tag.name.replace(/[^A-Za-z0-9._-]+/g, "_");
  const save = (blob, fileName) => {
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: fileName, hidden: true });
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    status(`Downloaded ${fileName}.`);
  };
  // Quoted when needed; a leading = + - @ gets a ' so a spreadsheet shows the name instead of
  // running it as a formula (file names are untrusted).
  const csvCell = (v) => {
    const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const kinds = [
    ["export-filenames", "File names (.txt)", async () => save(new Blob([await api(`${base}/basic/filenames`, { as: "text" })], { type: "text/plain" }), `${safe}-filenames.txt`)],
    ["export-csv", "CSV (file name, read URL)", async () => {
      const rows = await api(`${base}/basic/filenamesAndReadUrls`);
      save(new Blob(["fileName,readUrl\n" + rows.map((r) => `${csvCell(r.fileName)},${csvCell(r.readUrl)}`).join("\n") + "\n"], { type: "text/csv" }), `${safe}.csv`);
    }],
    ["export-json", "JSON (file names and read URLs)", async () => save(new Blob([JSON.stringify(await api(`${base}/basic/filenamesAndReadUrls`), null, 2)], { type: "application/json" }), `${safe}.json`)],
    ["export-labelstudio", "Label Studio tasks (.json)", async () => save(new Blob([JSON.stringify(await api(`${base}/LabelStudio/tasks`), null, 2)], { type: "application/json" }), `${safe}-labelstudio.json`)],
  ];
  replace(panel, h("div", { class: "card" },
    h("p", {}, `Download the ${tag.size.toLocaleString()} samples of “${tag.name}”. Read URLs are signed and expire; they carry no token.`),
    h("ul", { class: "exports" }, kinds.map(([kid, label, run]) => h("li", {}, h("button", {
      type: "button", id: kid,
      onclick: async (e) => { e.target.disabled = true; try { await run(); } catch (x) { status(x.message, "error"); } finally { e.target.disabled = false; } },
    }, label))))));
}

// MARK: jobs

async function jobsView() {
  document.title = "Jobs · Lightly server";
  const jobs = await api("/v1/jobs");
  jobs.sort((a, b) => b.createdAt - a.createdAt);
  const recent = jobs.slice(0, 100);
  const body = h("tbody", {}, recent.map((j) => {
    const err = h("td", { class: "error-cell" });
    if (j.status === "FAILED") api(`/v1/jobs/${encodeURIComponent(j.jobId)}`).then((d) => { err.textContent = d.error || ""; }).catch(() => {});
    return h("tr", {},
      h("td", {}, h("code", {}, j.jobId)), h("td", {}, j.jobType),
      h("td", {}, h("span", { class: `pill ${j.status.toLowerCase()}` }, j.status)),
      h("td", {}, when(j.createdAt)),
      h("td", { class: "num" }, j.finishedAt ? duration(j.finishedAt - j.createdAt) : "—"), err);
  }));
  replace(main(), h("h1", {}, "Jobs"),
    recent.length ? h("div", { class: "table-wrap" }, h("table", { id: "jobs" },
      h("caption", { class: "sr-only" }, "Recent jobs, newest first"),
      h("thead", {}, h("tr", {}, ["Job", "Type", "Status", "Created", "Duration", "Error"].map((t) => h("th", { scope: "col" }, t)))), body))
      : h("p", { class: "muted" }, "No jobs yet."));
}

// MARK: start

window.addEventListener("hashchange", route);
window.addEventListener("lightly-unauthorized", () => { token.clear(); status("Your token was refused; sign in again.", "error"); route(); });
document.getElementById("sign-out").addEventListener("click", signOut);
route();
