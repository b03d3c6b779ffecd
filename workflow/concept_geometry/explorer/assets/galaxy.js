"use strict";
// The galaxy page: plain JS + canvas, data inlined above (no network).
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  function typed(b64, Type) {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }
  const L = D.layers.map((l) => ({ ...l, eigen: typed(l.eigen, Float64Array), null: typed(l.null, Float64Array),
    rank: typed(l.rank, Int32Array), X: null, Y: null }));
  const slider = document.getElementById("layer"), all = document.getElementById("all");
  slider.max = String(L.length - 1);
  let cur = 0;
  const hue = (i) => `hsl(${Math.round(260 * i / Math.max(L.length - 1, 1))}, 65%, 42%)`;

  function setup(c) {
    const w = c.clientWidth, h = c.clientHeight, dpr = window.devicePixelRatio || 1;
    c.width = w * dpr; c.height = h * dpr;
    const ctx = c.getContext("2d"); ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.clearRect(0, 0, w, h);
    return [ctx, w, h];
  }
  function spectrum() {
    const [ctx, w, h] = setup(document.getElementById("spectrum"));
    const shown = all.checked ? L.map((_, i) => i) : [cur];
    let r1 = 1, e0 = Infinity, e1 = -Infinity;
    for (const i of shown) for (let j = 0; j < L[i].eigen.length; j++) {
      r1 = Math.max(r1, L[i].rank[j]);
      for (const v of [L[i].eigen[j], L[i].null[j]]) if (v > 0) { e0 = Math.min(e0, v); e1 = Math.max(e1, v); }
    }
    const pad = 40, lx = (r) => pad + (w - pad - 10) * Math.log10(r) / Math.log10(r1 || 10);
    const ly = (v) => h - pad - (h - pad - 10) * (Math.log10(v) - Math.log10(e0)) / ((Math.log10(e1) - Math.log10(e0)) || 1);
    ctx.fillStyle = "rgba(128,128,128,0.15)";
    ctx.fillRect(lx(D.fit_range[0]), 10, lx(D.fit_range[1]) - lx(D.fit_range[0]), h - pad - 10);
    ctx.strokeStyle = "#999"; ctx.strokeRect(pad, 10, w - pad - 10, h - pad - 10);
    ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
    ctx.fillText("rank (log)", w / 2 - 20, h - 8);
    ctx.save(); ctx.translate(12, h / 2 + 40); ctx.rotate(-Math.PI / 2); ctx.fillText("eigenvalue (log)", 0, 0); ctx.restore();
    shown.forEach((i, n) => { ctx.fillStyle = all.checked ? hue(i) : "#1f77b4"; ctx.fillText(`layer ${L[i].layer}`, w - 70, 24 + 13 * n); });
    ctx.fillStyle = "#333";
    ctx.fillText(`fit ${D.fit_range[0]}–${D.fit_range[1]}`, lx(D.fit_range[0]) + 3, 24);
    for (const i of shown) {
      for (const [arr, dash] of [[L[i].eigen, []], [L[i].null, [5, 4]]]) {
        ctx.beginPath(); ctx.setLineDash(dash); ctx.strokeStyle = all.checked ? hue(i) : (dash.length ? "#888" : "#1f77b4");
        ctx.lineWidth = i === cur ? 2 : 1;
        let started = false;
        for (let j = 0; j < arr.length; j++) {
          if (!(arr[j] > 0)) continue;
          const x = lx(L[i].rank[j]), y = ly(arr[j]);
          if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
        }
        ctx.stroke();
      }
    }
    ctx.setLineDash([]);
    document.getElementById("spectrum").dataset.drawn = String(shown.length);
  }
  function cloud() {
    const l = L[cur];
    if (!l.X) { l.X = typed(l.x, Uint16Array); l.Y = typed(l.y, Uint16Array); }
    const [ctx, w, h] = setup(document.getElementById("cloud"));
    const dense = l.X.length > 8000, s = dense ? 1.5 : 3;
    ctx.fillStyle = dense ? "rgba(31,119,180,0.35)" : "rgba(31,119,180,0.6)";
    const pad = 10, kx = (w - 2 * pad) / 65535, ky = (h - 2 * pad) / 65535;
    for (let i = 0; i < l.X.length; i++) ctx.fillRect(pad + l.X[i] * kx - s / 2, h - pad - l.Y[i] * ky - s / 2, s, s);
    document.getElementById("cloud").dataset.drawn = String(l.X.length);
    document.getElementById("cloudLegend").textContent =
      `Layer ${l.layer}: ${l.n_points} of ${l.n_features} decoder directions on their first two principal components.`;
  }
  function table() {
    const keys = ["slope", "slope_ci_low", "slope_ci_high", "null_slope", "log_volume", "clustering_corrected", "null_clustering_corrected"];
    let h = "<tr><th>layer</th>" + keys.map((k) => `<th>${k}</th>`).join("") + "</tr>";
    L.forEach((l, i) => {
      h += `<tr class="${i === cur ? "sel" : ""}" data-i="${i}"><td>${l.layer}</td>` +
        keys.map((k) => `<td>${l.stats[k] == null ? "–" : l.stats[k].toFixed(3)}</td>`).join("") + "</tr>";
    });
    document.getElementById("stats").innerHTML = h;
  }
  function show(i) {
    cur = i; slider.value = String(i);
    document.getElementById("layerName").textContent = L[i].layer;
    spectrum(); cloud(); table();
  }
  slider.addEventListener("input", () => show(parseInt(slider.value, 10)));
  all.addEventListener("change", spectrum);
  document.getElementById("stats").addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (tr && tr.dataset.i !== undefined) show(parseInt(tr.dataset.i, 10));
  });
  window.addEventListener("resize", () => show(cur));
  window.galaxy = { nLayers: L.length, show, current: () => L[cur].layer };
  show(0);
  requestAnimationFrame(() => requestAnimationFrame(() => { window.galaxy.firstPaintMs = performance.now(); }));
  document.body.dataset.ready = "1";
})();
