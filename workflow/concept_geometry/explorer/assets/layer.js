"use strict";
// One layer's feature explorer: plain JS + canvas, data inlined above (no network).
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  function typed(b64, Type) {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }
  const F = D.n_features, N = D.n_top, S = 2 * D.window + 1, C = D.categories.length;
  const feature = typed(D.feature, Int32Array), X = typed(D.x, Float32Array), Y = typed(D.y, Float32Array);
  const freq = typed(D.freq, Float32Array), catChunks = typed(D.category_chunks, Uint32Array);
  const ctxAct = typed(D.ctx_activation, Float32Array), ctxDoc = typed(D.ctx_doc, Int32Array);
  const ctxTok = typed(D.ctx_tokens, D.tok_bytes === 2 ? Uint16Array : Uint32Array);
  const lobeCache = new Map();
  function lobesOf(ci) {  // lobe per feature (-1: excluded) of colouring ci
    if (!lobeCache.has(ci)) {
      const c = D.colourings[ci];
      const raw = typed(c.lobe, c.lobe_bytes === 1 ? Uint8Array : Uint16Array);
      const out = new Int32Array(F);
      for (let f = 0; f < F; f++) out[f] = raw[f] - 1;
      lobeCache.set(ci, out);
    }
    return lobeCache.get(ci);
  }
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#e6550d", "#31a354", "#756bb1", "#636363",
    "#843c39", "#7b4173", "#3182bd", "#fd8d3c", "#74c476"];
  const colour = (lobe) => lobe < 0 ? "#cfcfcf" : PALETTE[lobe % PALETTE.length];
  const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

  // --- controls
  const sel = document.getElementById("colouring");
  D.colourings.forEach((c, i) => {
    const o = document.createElement("option");
    o.value = i;
    o.textContent = `${c.measure} · k=${c.k} · ${c.variant}`;
    sel.appendChild(o);
  });
  let current = 0, selected = -1, hover = -1, highlighted = new Set();

  // --- map
  const canvas = document.getElementById("map"), tip = document.getElementById("tip");
  const ctx = canvas.getContext("2d");
  let sx = [], sy = [];
  let maxFreq = 0;
  for (let f = 0; f < F; f++) maxFreq = Math.max(maxFreq, freq[f]);
  const radius = (f) => 1.5 + 4.5 * Math.sqrt(maxFreq > 0 ? freq[f] / maxFreq : 0);
  function layout() {
    const w = canvas.clientWidth, h = canvas.clientHeight, dpr = window.devicePixelRatio || 1;
    canvas.width = w * dpr; canvas.height = h * dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < X.length; i++) {
      x0 = Math.min(x0, X[i]); x1 = Math.max(x1, X[i]); y0 = Math.min(y0, Y[i]); y1 = Math.max(y1, Y[i]);
    }
    const pad = 12, kx = (w - 2 * pad) / ((x1 - x0) || 1), ky = (h - 2 * pad) / ((y1 - y0) || 1);
    sx = new Float32Array(X.length); sy = new Float32Array(X.length);
    for (let i = 0; i < X.length; i++) { sx[i] = pad + (X[i] - x0) * kx; sy[i] = h - pad - (Y[i] - y0) * ky; }
  }
  function draw() {
    const lobe = lobesOf(current), faithful = D.colourings[current].variant === "faithful";
    ctx.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
    const dim = highlighted.size > 0;
    for (let pass = 0; pass < 2; pass++) {  // excluded (grey) first, lobes on top
      for (let i = 0; i < X.length; i++) {
        const f = feature[i];
        if ((lobe[f] < 0) !== (pass === 0)) continue;
        ctx.globalAlpha = dim && !highlighted.has(f) ? 0.25 : 0.85;
        ctx.beginPath(); ctx.arc(sx[i], sy[i], radius(f), 0, 2 * Math.PI);
        ctx.fillStyle = colour(lobe[f]); ctx.fill();
        if (faithful && freq[f] === 0) { ctx.lineWidth = 1; ctx.strokeStyle = "#000"; ctx.stroke(); }
      }
    }
    ctx.globalAlpha = 1;
    for (let i = 0; i < X.length; i++) {
      const f = feature[i];
      if (!highlighted.has(f) && f !== selected) continue;
      ctx.beginPath(); ctx.arc(sx[i], sy[i], radius(f) + 3, 0, 2 * Math.PI);
      ctx.lineWidth = 2; ctx.strokeStyle = f === selected ? "#000" : "#e00000"; ctx.stroke();
    }
    canvas.dataset.drawn = String(X.length);
  }
  function nearest(px, py) {
    let best = -1, bd = 100;  // within 10 px
    for (let i = 0; i < X.length; i++) {
      const d = (sx[i] - px) ** 2 + (sy[i] - py) ** 2;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }
  const pointOf = new Map();
  for (let i = 0; i < feature.length; i++) pointOf.set(feature[i], i);

  // --- contexts
  function contextHtml(f, j) {
    const base = (f * N + j) * S;
    let s = "";
    for (let t = 0; t < S; t++) {
      const v = ctxTok[base + t];
      if (v === 0) continue;
      const text = esc(D.vocab[v - 1]);
      s += t === D.window ? `<mark>${text}</mark>` : text;
    }
    return s;
  }
  let texts = null;  // joined context texts, built on the first text search
  function contextText(f, j) {
    const base = (f * N + j) * S;
    let s = "";
    for (let t = 0; t < S; t++) { const v = ctxTok[base + t]; if (v) s += D.vocab[v - 1]; }
    return s;
  }

  // --- feature card
  function card(f) {
    const el = document.getElementById("card");
    if (f < 0) { el.innerHTML = "<i>Hover or click a point.</i>"; return; }
    const c = D.colourings[current];
    let h = `<h3 style="margin:2px 0">Feature ${f}</h3>`;
    h += `<div>Firing frequency ${(100 * freq[f]).toFixed(3)}% of ${D.n_chunks} histogram chunks` +
      (freq[f] === 0 ? " (never fires)" : "") + `</div>`;
    h += `<div><b>Lobe</b> (k=${c.k}, ${c.variant}): <table><tr>`;
    const same = D.colourings.map((o, i) => [o, i]).filter(([o]) => o.k === c.k && o.variant === c.variant);
    h += same.map(([o]) => `<th>${o.measure}</th>`).join("") + "</tr><tr>";
    h += same.map(([o, i]) => { const l = lobesOf(i)[f]; return `<td><span class="sw" style="background:${colour(l)}"></span> ${l < 0 ? "excluded" : l}</td>`; }).join("");
    h += "</tr></table></div>";
    let tot = 0;
    for (let k = 0; k < C; k++) tot = Math.max(tot, catChunks[f * C + k]);
    h += "<div><b>Chunks where it fires, per category</b><table>";
    for (let k = 0; k < C; k++) {
      const n = catChunks[f * C + k];
      h += `<tr><td>${esc(D.categories[k])}</td><td>${n}</td><td><span class="bar" style="width:${tot ? Math.round(150 * n / tot) : 0}px"></span></td></tr>`;
    }
    h += "</table></div><div><b>Top contexts</b> (activation; document)</div><div class=\"contexts\">";
    let shown = 0;
    for (let j = 0; j < N; j++) {
      if (ctxAct[f * N + j] < 0) continue;
      shown++;
      h += `<div class="ctx" data-feature="${f}">${contextHtml(f, j)} <span class="act">${ctxAct[f * N + j].toFixed(2)}; doc ${ctxDoc[f * N + j]}</span></div>`;
    }
    if (!shown) h += "<i>no positive activation on any token</i>";
    el.innerHTML = h + "</div>";
  }

  // --- lobe summary
  function lobePanel() {
    const c = D.colourings[current];
    let h = `<b>Lobes: ${esc(c.measure)}, k=${c.k}, ${c.variant}</b><table><tr><th>lobe</th><th>size</th>`;
    const cats = c.measure === "geometric" ? [] : D.categories;
    h += cats.map((k) => `<th>${esc(k)}</th>`).join("") + "<th>top context tokens</th></tr>";
    for (const r of c.summary) {
      h += `<tr><td><span class="sw" style="background:${colour(r.lobe)}"></span> ${r.lobe}</td><td>${r.size}</td>`;
      h += cats.map((k) => { const v = r.specialization ? r.specialization[k] : null; return `<td>${v == null ? "–" : (100 * v).toFixed(1) + "%"}</td>`; }).join("");
      h += `<td>${r.tokens.map(([t, n]) => `<code>${esc(t)}</code>×${n}`).join(" ")}</td></tr>`;
    }
    h += "</table>";
    if (cats.length) h += "<div class=\"legend\">Per category: the share of its chunks this lobe wins.</div>";
    document.getElementById("lobes").innerHTML = h;
  }

  // --- search
  function search(q) {
    q = q.trim();
    const hits = [];
    if (q === "") {
      highlighted = new Set();
    } else if (/^\d+$/.test(q)) {
      const f = parseInt(q, 10);
      if (f < F) { hits.push([f, 1]); select(f); }
      highlighted = new Set(hits.map((h) => h[0]));
    } else {
      if (texts === null) {
        texts = new Array(F * N);
        for (let f = 0; f < F; f++) for (let j = 0; j < N; j++) texts[f * N + j] = ctxAct[f * N + j] < 0 ? "" : contextText(f, j).toLowerCase();
      }
      const needle = q.toLowerCase();
      for (let f = 0; f < F; f++) {
        let n = 0;
        for (let j = 0; j < N; j++) if (texts[f * N + j].includes(needle)) n++;
        if (n) hits.push([f, n]);
      }
      hits.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      highlighted = new Set(hits.map((h) => h[0]));
    }
    const el = document.getElementById("hits");
    el.innerHTML = q === "" ? "<i>Search by feature id, or by text of the top contexts.</i>" :
      `<b>${hits.length} feature(s)</b> ` + hits.slice(0, 300).map(([f, n]) => `<span class="hit" data-feature="${f}">${f}${n > 1 ? " (" + n + ")" : ""}</span>`).join(" ");
    draw();
    document.getElementById("status").textContent = q === "" ? "" : `${hits.length} highlighted`;
  }
  function select(f) { selected = f; card(f); draw(); }

  // --- events
  sel.addEventListener("change", () => { current = parseInt(sel.value, 10); draw(); lobePanel(); if (selected >= 0) card(selected); });
  document.getElementById("search").addEventListener("input", (e) => search(e.target.value));
  document.getElementById("hits").addEventListener("click", (e) => {
    const f = e.target.dataset && e.target.dataset.feature;
    if (f !== undefined) select(parseInt(f, 10));
  });
  canvas.addEventListener("mousemove", (e) => {
    const r = canvas.getBoundingClientRect(), i = nearest(e.clientX - r.left, e.clientY - r.top);
    hover = i < 0 ? -1 : feature[i];
    if (i < 0) { tip.style.display = "none"; return; }
    tip.style.display = "block"; tip.style.left = (sx[i] + 10) + "px"; tip.style.top = (sy[i] + 10) + "px";
    tip.textContent = `feature ${hover} · lobe ${lobesOf(current)[hover]}`;
    if (selected < 0) card(hover);
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; if (selected < 0) card(-1); });
  canvas.addEventListener("click", (e) => {
    const r = canvas.getBoundingClientRect(), i = nearest(e.clientX - r.left, e.clientY - r.top);
    select(i < 0 ? -1 : feature[i]);
  });
  window.addEventListener("resize", () => { layout(); draw(); });

  // For tests and scripting: the map's state and the page position of a feature's point.
  window.explorer = {
    nPoints: X.length,
    highlighted: () => Array.from(highlighted).sort((a, b) => a - b),
    selected: () => selected,
    search, select,
    pointPosition: (f) => {
      const i = pointOf.get(f), r = canvas.getBoundingClientRect();
      return i === undefined ? null : [r.left + sx[i], r.top + sy[i]];
    },
  };
  layout(); draw(); lobePanel();
  // Time from navigation start to the first painted map (benchmarks/explorer_page.py).
  requestAnimationFrame(() => requestAnimationFrame(() => { window.explorer.firstPaintMs = performance.now(); }));
  document.getElementById("status").textContent = `${X.length} of ${F} features mapped`;
  document.body.dataset.ready = "1";
})();
