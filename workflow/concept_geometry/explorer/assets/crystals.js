"use strict";
// The crystals page: plain JS + canvas, data inlined above (no network).
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  function typed(b64, Type) {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }
  const rel = typed(D.relation, Uint16Array);
  const S = D.spaces.map((s) => ({ ...s, X: typed(s.x, Float32Array), Y: typed(s.y, Float32Array) }));
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#e6550d", "#31a354", "#756bb1", "#636363",
    "#843c39", "#7b4173", "#3182bd", "#fd8d3c", "#74c476"];
  const colour = (r) => PALETTE[r % PALETTE.length];
  const hidden = new Set();
  let cur = 0, sx = null, sy = null;
  const canvas = document.getElementById("map"), tip = document.getElementById("tip");
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

  const spacesEl = document.getElementById("spaces");
  S.forEach((s, i) => {
    spacesEl.insertAdjacentHTML("beforeend", `<label><input type="radio" name="space" value="${i}" ${i === 0 ? "checked" : ""}> ${esc(s.label)}</label> `);
  });
  spacesEl.addEventListener("change", (e) => { cur = parseInt(e.target.value, 10); draw(); });
  const legend = document.getElementById("legend");
  D.relations.forEach((name, r) => legend.insertAdjacentHTML("beforeend",
    `<div data-r="${r}"><span class="sw" style="background:${colour(r)}"></span>${esc(name)}</div>`));
  legend.addEventListener("click", (e) => {
    const div = e.target.closest("div[data-r]");
    if (!div) return;
    const r = parseInt(div.dataset.r, 10);
    if (hidden.has(r)) hidden.delete(r); else hidden.add(r);
    div.classList.toggle("off", hidden.has(r));
    draw();
  });

  function draw() {
    const s = S[cur], w = canvas.clientWidth, h = canvas.clientHeight, dpr = window.devicePixelRatio || 1;
    canvas.width = w * dpr; canvas.height = h * dpr;
    const ctx = canvas.getContext("2d"); ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < s.X.length; i++) {
      x0 = Math.min(x0, s.X[i]); x1 = Math.max(x1, s.X[i]); y0 = Math.min(y0, s.Y[i]); y1 = Math.max(y1, s.Y[i]);
    }
    const pad = 14, kx = (w - 2 * pad) / ((x1 - x0) || 1), ky = (h - 2 * pad) / ((y1 - y0) || 1);
    sx = new Float32Array(s.X.length); sy = new Float32Array(s.X.length);
    let n = 0;
    ctx.globalAlpha = 0.7;
    for (let i = 0; i < s.X.length; i++) {
      sx[i] = pad + (s.X[i] - x0) * kx; sy[i] = h - pad - (s.Y[i] - y0) * ky;
      if (hidden.has(rel[i])) continue;
      ctx.fillStyle = colour(rel[i]); ctx.beginPath(); ctx.arc(sx[i], sy[i], 3, 0, 2 * Math.PI); ctx.fill(); n++;
    }
    ctx.globalAlpha = 1; ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
    ctx.fillText(s.space === "lda" ? (s.strip ? "LD1 (one row per relation)" : "LD1 / LD2") : "PC1 / PC2", 6, h - 4);
    canvas.dataset.drawn = String(n);
  }
  function nearest(px, py) {
    let best = -1, bd = 64;
    for (let i = 0; i < sx.length; i++) {
      if (hidden.has(rel[i])) continue;
      const d = (sx[i] - px) ** 2 + (sy[i] - py) ** 2;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect(), i = nearest(e.clientX - r.left, e.clientY - r.top);
    if (i < 0) { tip.style.display = "none"; return; }
    tip.style.display = "block"; tip.style.left = (sx[i] + 10) + "px"; tip.style.top = (sy[i] + 10) + "px";
    tip.textContent = `${D.inputs[i]} → ${D.outputs[i]} (${D.relations[rel[i]]})`;
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  window.addEventListener("resize", draw);
  window.crystals = {
    nPoints: rel.length, spaces: S.map((s) => s.space),
    show: (space) => { cur = S.findIndex((s) => s.space === space); document.querySelectorAll("input[name=space]")[cur].checked = true; draw(); },
    pointPosition: (i) => { const r = canvas.getBoundingClientRect(); return [r.left + sx[i], r.top + sy[i]]; },
    tip: () => tip.style.display === "none" ? "" : tip.textContent,
  };
  draw();
  document.body.dataset.ready = "1";
})();
