// The embedding map: a scatter of the stored 2-D projection on a 2-D canvas. Points are
// written straight into an ImageData (one typed-array pass per frame), so a million points pan
// at interactive rates without WebGL. Colours: selected (tag A) orange, preselected (tag B)
// blue, the rest grey; members of A are drawn last so they stay visible.

const COLORS = {
  rest: [148, 163, 184],
  b: [37, 99, 235],
  a: [234, 88, 12],
  both: [124, 58, 237],
};

export class ScatterMap {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {Float32Array} xy interleaved x, y in mapping order
   * @param {(index: number|null, x: number, y: number) => void} onHover
   */
  constructor(canvas, xy, onHover) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.xy = xy;
    this.n = xy.length / 2;
    this.onHover = onHover;
    this.category = new Uint8Array(this.n); // 0 rest, 1 b, 2 a, 3 both
    this.order = null;
    this.hovered = null;
    this.frameScheduled = false;
    this.lastDrawMs = 0;
    this.fit();
    this.computeOrder();
    this.bind();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(canvas);
    this.resize();
  }

  /** Sets membership (Uint8Array of 0/1 or null) of tag A (selected) and tag B (preselected). */
  setMembership(a, b) {
    for (let i = 0; i < this.n; i++) this.category[i] = (a && a[i] ? 2 : 0) | (b && b[i] ? 1 : 0);
    this.computeOrder();
    this.requestDraw();
  }

  computeOrder() {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < this.n; i++) counts[this.category[i]]++;
    const start = [0, counts[0], counts[0] + counts[1], counts[0] + counts[1] + counts[2]];
    const order = new Uint32Array(this.n);
    for (let i = 0; i < this.n; i++) order[start[this.category[i]]++] = i;
    this.order = order;
    this.counts = counts;
  }

  /** Bounds of the data, and a view that shows all of it. */
  fit() {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < this.n; i++) {
      const x = this.xy[2 * i], y = this.xy[2 * i + 1];
      if (!isFinite(x) || !isFinite(y)) continue;
      if (x < minX) minX = x; if (x > maxX) maxX = x;
      if (y < minY) minY = y; if (y > maxY) maxY = y;
    }
    if (!isFinite(minX)) { minX = minY = -1; maxX = maxY = 1; }
    this.bounds = { minX, minY, maxX: maxX === minX ? minX + 1 : maxX, maxY: maxY === minY ? minY + 1 : maxY };
    this.view = null; // set on the first resize
  }

  resetView() {
    const { minX, minY, maxX, maxY } = this.bounds;
    const w = this.canvas.width, hgt = this.canvas.height, pad = 16 * (window.devicePixelRatio || 1);
    const scale = Math.min((w - 2 * pad) / (maxX - minX), (hgt - 2 * pad) / (maxY - minY));
    this.view = { scale, cx: (minX + maxX) / 2, cy: (minY + maxY) / 2 };
    this.requestDraw();
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    const rect = this.canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(rect.width * dpr)), hgt = Math.max(1, Math.round(rect.height * dpr));
    if (w === this.canvas.width && hgt === this.canvas.height && this.view) return;
    this.canvas.width = w; this.canvas.height = hgt;
    this.image = this.ctx.createImageData(w, hgt);
    this.pixels = new Uint32Array(this.image.data.buffer);
    this.resetView();
  }

  /** Screen (canvas pixel) position of data point i. */
  toScreen(i) {
    const v = this.view;
    return [(this.xy[2 * i] - v.cx) * v.scale + this.canvas.width / 2,
            this.canvas.height / 2 - (this.xy[2 * i + 1] - v.cy) * v.scale];
  }

  panBy(dx, dy) { // in canvas pixels
    this.view.cx -= dx / this.view.scale;
    this.view.cy += dy / this.view.scale;
    this.requestDraw();
  }

  zoomAt(factor, px, py) { // px, py in canvas pixels
    const v = this.view, w = this.canvas.width, hgt = this.canvas.height;
    const dx = (px - w / 2) / v.scale, dy = (hgt / 2 - py) / v.scale;
    v.scale *= factor;
    v.cx += dx - dx / factor;
    v.cy += dy - dy / factor;
    this.requestDraw();
  }

  requestDraw() {
    if (this.frameScheduled) return;
    this.frameScheduled = true;
    requestAnimationFrame(() => { this.frameScheduled = false; this.draw(); });
  }

  draw() {
    if (!this.view || !this.pixels) return;
    const t0 = performance.now();
    const w = this.canvas.width, hgt = this.canvas.height, px = this.pixels;
    const little = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
    const pack = ([r, g, b]) => little ? (0xff000000 | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | 0xff) >>> 0;
    px.fill(pack([255, 255, 255]));
    const colors = [COLORS.rest, COLORS.b, COLORS.a, COLORS.both].map(pack);
    const size = this.n <= 2000 ? 7 : this.n <= 20000 ? 4 : this.n <= 200000 ? 2 : 1;
    const half = size >> 1;
    const { scale, cx, cy } = this.view, ox = w / 2, oy = hgt / 2, xy = this.xy, order = this.order;
    let drawn = 0;
    let k = 0;
    for (let cat = 0; cat < 4; cat++) {
      const color = colors[cat], end = k + this.counts[cat];
      for (; k < end; k++) {
        const i = order[k];
        const sx = ((xy[2 * i] - cx) * scale + ox) | 0, sy = (oy - (xy[2 * i + 1] - cy) * scale) | 0;
        if (sx < half || sy < half || sx >= w - half || sy >= hgt - half) continue;
        drawn++;
        if (size === 1) { px[sy * w + sx] = color; continue; }
        for (let yy = sy - half; yy < sy - half + size; yy++) {
          const row = yy * w;
          for (let xx = sx - half; xx < sx - half + size; xx++) px[row + xx] = color;
        }
      }
    }
    this.ctx.putImageData(this.image, 0, 0);
    if (this.hovered !== null) {
      const [hx, hy] = this.toScreen(this.hovered);
      this.ctx.strokeStyle = "#111827";
      this.ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
      this.ctx.beginPath();
      this.ctx.arc(hx, hy, 7 * (window.devicePixelRatio || 1), 0, 2 * Math.PI);
      this.ctx.stroke();
    }
    this.lastDrawMs = performance.now() - t0;
    this.canvas.dataset.pointCount = String(this.n);
    this.canvas.dataset.drawnPoints = String(drawn);
    this.canvas.dataset.drawMs = this.lastDrawMs.toFixed(2);
    this.canvas.dataset.frames = String(Number(this.canvas.dataset.frames || 0) + 1);
    if (this.canvas.dataset.frames === "1") performance.mark("map-drawn");
  }

  /** The nearest point within 12 CSS pixels of a canvas position, or null. */
  nearest(px, py) {
    const dpr = window.devicePixelRatio || 1, max = (12 * dpr) ** 2;
    // In data units: one pass over the typed array, no allocation per point.
    const { scale, cx, cy } = this.view, xy = this.xy;
    const tx = cx + (px - this.canvas.width / 2) / scale, ty = cy - (py - this.canvas.height / 2) / scale;
    const maxData = max / (scale * scale);
    let best = null, bestD = maxData;
    for (let i = 0; i < this.n; i++) {
      const dx = xy[2 * i] - tx, dy = xy[2 * i + 1] - ty;
      const d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  }

  bind() {
    const c = this.canvas;
    const dpr = () => window.devicePixelRatio || 1;
    let drag = null, hoverPending = null;
    c.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener("pointerup", (e) => { drag = null; c.releasePointerCapture(e.pointerId); });
    c.addEventListener("pointermove", (e) => {
      if (drag) {
        this.panBy((e.clientX - drag.x) * dpr(), (e.clientY - drag.y) * dpr());
        drag = { x: e.clientX, y: e.clientY };
        return;
      }
      const rect = c.getBoundingClientRect();
      const at = [(e.clientX - rect.left) * dpr(), (e.clientY - rect.top) * dpr(), e.clientX - rect.left, e.clientY - rect.top];
      if (hoverPending) { hoverPending = at; return; }
      hoverPending = at;
      requestAnimationFrame(() => {
        const [px, py, cssX, cssY] = hoverPending; hoverPending = null;
        const i = this.nearest(px, py);
        if (i !== this.hovered) { this.hovered = i; this.requestDraw(); this.onHover(i, cssX, cssY); }
      });
    });
    c.addEventListener("pointerleave", () => {
      if (this.hovered !== null) { this.hovered = null; this.requestDraw(); this.onHover(null, 0, 0); }
    });
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const rect = c.getBoundingClientRect();
      this.zoomAt(Math.exp(-e.deltaY * 0.002), (e.clientX - rect.left) * dpr(), (e.clientY - rect.top) * dpr());
    }, { passive: false });
    c.addEventListener("keydown", (e) => {
      const step = 40 * dpr();
      const keys = {
        ArrowLeft: () => this.panBy(step, 0), ArrowRight: () => this.panBy(-step, 0),
        ArrowUp: () => this.panBy(0, step), ArrowDown: () => this.panBy(0, -step),
        "+": () => this.zoomAt(1.25, c.width / 2, c.height / 2), "=": () => this.zoomAt(1.25, c.width / 2, c.height / 2),
        "-": () => this.zoomAt(0.8, c.width / 2, c.height / 2), "0": () => this.resetView(),
        n: () => this.step(1), p: () => this.step(-1),
      };
      if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
    });
  }

  /** Keyboard hover: highlights the next (+1) or previous (-1) point in mapping order and
   * reports it like a pointer hover, centring the view on it when it is off screen. */
  step(delta) {
    if (!this.n) return;
    const i = this.hovered === null ? (delta > 0 ? 0 : this.n - 1) : (this.hovered + delta + this.n) % this.n;
    let [sx, sy] = this.toScreen(i);
    if (sx < 0 || sy < 0 || sx >= this.canvas.width || sy >= this.canvas.height) {
      this.view.cx = this.xy[2 * i]; this.view.cy = this.xy[2 * i + 1];
      [sx, sy] = this.toScreen(i);
    }
    this.hovered = i;
    this.requestDraw();
    const dpr = window.devicePixelRatio || 1;
    this.onHover(i, sx / dpr, sy / dpr);
  }

  destroy() { this.resizeObserver.disconnect(); }
}
