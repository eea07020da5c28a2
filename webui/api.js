// The API client of the page. The token lives in sessionStorage only (gone when the tab
// closes) and travels in the Authorization header, never in a URL.

const KEY = "lightly.token";

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An error carrying the server's message and HTTP status. */
export class APIError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

/**
 * Calls the API. `as`: "json" (default), "text", "bytes" (ArrayBuffer) or "response". A 401
 * signs the page out (event `lightly-unauthorized`) unless `notify401` is false.
 * Throws APIError with the server's `error` text on a non-2xx answer.
 */
export async function api(path, { method = "GET", body, as = "json", query, notify401 = true } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null) url.searchParams.set(k, v);
  const headers = { Authorization: `Bearer ${token.get() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
  });
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try { const j = await r.json(); if (j && j.error) msg = j.error; } catch { /* not JSON */ }
    if (r.status === 401 && notify401) window.dispatchEvent(new CustomEvent("lightly-unauthorized"));
    throw new APIError(msg, r.status);
  }
  if (as === "response") return r;
  if (as === "text") return r.text();
  if (as === "bytes") return r.arrayBuffer();
  return r.json();
}

/** Bit indices of a tag's bitMaskData ("0x…", bit i = sample i) as a Uint8Array of 0/1 of length n. */
export function bitmaskMembership(hex, n) {
  const out = new Uint8Array(n);
  const digits = (hex || "0x0").replace(/^0x/i, "");
  for (let d = 0; d < digits.length; d++) {
    const v = parseInt(digits[digits.length - 1 - d], 16);
    if (!v) continue;
    for (let b = 0; b < 4; b++) {
      const i = d * 4 + b;
      if (i < n && (v >> b) & 1) out[i] = 1;
    }
  }
  return out;
}
