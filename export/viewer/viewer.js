// The dance viewer: draws the joint sequences embedded in this page, lane beside lane, in time with the page's
// music. Plain browser JavaScript (canvas 2D), no library, no network: everything it shows is in the page.
//
// Data (written by export/viewer/page.py): the script element "soul-meta" holds JSON {title, fps, parents, scenes: [{name,
// duration, audio: {blob, mime, name} | null, beats: [s], beat_source, spans: [[s, s]], span_label, lanes: [{name,
// frames, joints, blob, scale, offset, floor, motion_beats: [frame]}]}]} (floor: the height the lane's feet stand on;
// spans: an edit's kept spans, shaded on the time bar), and one script element "blob-N" per binary block, base64 of
// gzip. A lane's block
// is the root's path, float32 (3, frames), then the joints relative to the root, int16 (joints * 3, frames),
// channel-major, each channel stored as differences along time: position = root + value * scale + offset[axis]
// metres, Y up.
"use strict";
(() => {
  const META = JSON.parse(document.getElementById("soul-meta").textContent);
  const FPS = META.fps;
  const N_BODY = 22;
  const $ = (id) => document.getElementById(id);
  const canvas = $("view"), ctx = canvas.getContext("2d");
  const bar = $("timebar"), barCtx = bar.getContext("2d");
  const audio = $("music");
  const COLORS = {
    bg: "#f4f5f7", grid: "#d9dce1", axis: "#b8bec8", shadow: "rgba(60,60,70,0.16)", trail: "rgba(221,107,32,0.28)",
    trailNow: "rgba(221,107,32,0.55)", left: "#2b6cb0", right: "#c53030", centre: "#2d3748", leftHand: "#3182ce",
    rightHand: "#e53e3e", label: "#1a202c", ended: "rgba(244,245,247,0.55)",
  };
  const LANE_TINTS = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b", "#975a16", "#4a5568"];
  const LEFT = new Set([1, 4, 7, 10, 13, 16, 18, 20]), RIGHT = new Set([2, 5, 8, 11, 14, 17, 19, 21]);

  // ------------------------------------------------------------------ decoding
  function base64Bytes(id) {
    const text = atob(document.getElementById("blob-" + id).textContent.trim());
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }
  async function gunzip(bytes) {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }
  async function decodeLane(lane) {  // -> Float32Array (frames, joints, 3)
    const T = lane.frames, C = lane.joints * 3, buf = await gunzip(base64Bytes(lane.blob));
    if (buf.byteLength !== 12 * T + 2 * T * C) throw new Error(`lane ${lane.name}: ${buf.byteLength} bytes, expected ${12 * T + 2 * T * C}`);
    const root = new Float32Array(buf, 0, 3 * T), q = new Int16Array(buf, 12 * T, T * C);
    const pos = new Float32Array(T * C);
    for (let c = 0; c < C; c++) {
      const off = lane.offset[c % 3], base = c * T, r = (c % 3) * T;
      let acc = 0;
      for (let t = 0; t < T; t++) {
        acc = (acc + q[base + t]) << 16 >> 16;  // int16 wrap-around, as the differences were taken
        pos[t * C + c] = root[r + t] + acc * lane.scale + off;
      }
    }
    return pos;
  }
  const decoded = new Map();  // scene index -> Promise of {lanes: [Float32Array], audioUrl}
  function loadScene(i) {
    if (!decoded.has(i)) {
      const scene = META.scenes[i];
      decoded.set(i, (async () => {
        const lanes = await Promise.all(scene.lanes.map(decodeLane));
        let audioUrl = null;
        if (scene.audio) audioUrl = URL.createObjectURL(new Blob([base64Bytes(scene.audio.blob)], {type: scene.audio.mime}));
        return {lanes, audioUrl};
      })());
    }
    return decoded.get(i);
  }

  // ------------------------------------------------------------------ state
  const state = {
    scene: 0, data: null, lanes: [], duration: 0, playing: false, rate: 1, t: 0, wall0: 0, t0: 0, audioOn: false,
    show: {body: true, hands: true, trail: true, floor: true, follow: true},
    cam: {yaw: 0.45, pitch: 0.28, dist: 4.2, pan: [0, 0, 0]}, drawn: {t: -1, frame: -1, cameras: []}, loop: false,
    draws: 0,
  };
  const scene = () => META.scenes[state.scene];

  // ------------------------------------------------------------------ clock: the music drives the frame
  // While playing, the time is the music's own clock when the music covers it (`audioOn`), else the page's clock
  // (no music, music the browser refused to play, or a dance longer than its music).
  let playToken = 0;  // a play() request that a later play or pause superseded is ignored when it fails
  function audioUsable(t) {
    return Boolean(scene().audio) && Number.isFinite(audio.duration) && t < audio.duration - 1e-3;
  }
  function now() {
    if (!state.playing) return state.t;
    if (state.audioOn) return audio.currentTime;
    return state.t0 + (performance.now() - state.wall0) / 1000 * state.rate;
  }
  function startAudio(t) {  // while playing: the music from t if it covers t, else the page's clock from t
    state.audioOn = false; state.t0 = t; state.wall0 = performance.now();
    if (!audioUsable(t)) { if (!audio.paused) audio.pause(); return; }
    audio.playbackRate = state.rate; audio.currentTime = t; state.audioOn = true;
    const token = ++playToken;
    audio.play().catch((err) => {
      if (token !== playToken || err.name === "AbortError" || !state.playing) return;
      state.t0 = audio.currentTime; state.wall0 = performance.now(); state.audioOn = false;  // on without music
      $("note").textContent = `music blocked by the browser (${err.name}): pause and play again`;
    });
  }
  function seek(t) {
    t = Math.min(Math.max(0, t), state.duration);
    state.t = t;
    if (state.playing) startAudio(t);
    else if (scene().audio && Number.isFinite(audio.duration)) audio.currentTime = Math.min(t, audio.duration);
    requestDraw();
  }
  function play() {
    if (state.playing || !state.data) return;
    if (state.t >= state.duration - 1 / FPS) state.t = 0;
    state.playing = true; startAudio(state.t); updateControls(); loop();
  }
  function pause() {
    if (state.playing) state.t = Math.min(now(), state.duration);
    state.playing = false; state.audioOn = false; playToken++;
    if (!audio.paused) audio.pause();
    updateControls(); requestDraw();
  }
  audio.addEventListener("ended", () => {  // the dance may outlast its music: the page's clock takes over
    if (state.playing && state.audioOn) { state.audioOn = false; state.t0 = audio.duration; state.wall0 = performance.now(); }
  });
  function setRate(r) {
    if (state.playing && !state.audioOn) { state.t0 = now(); state.wall0 = performance.now(); }
    state.rate = r; audio.playbackRate = r; $("speed").value = String(r);
  }

  // ------------------------------------------------------------------ camera and projection
  function laneCamera(k, frame, rect) {
    const c = state.cam, pos = state.lanes[k], lane = scene().lanes[k], J = lane.joints;
    const f = Math.min(frame, lane.frames - 1);
    const target = [c.pan[0], lane.floor + 0.9 + c.pan[1], c.pan[2]];
    if (state.show.follow) { target[0] += pos[f * J * 3]; target[2] += pos[f * J * 3 + 2]; }
    const eye = [target[0] + c.dist * Math.cos(c.pitch) * Math.sin(c.yaw), target[1] + c.dist * Math.sin(c.pitch),
      target[2] + c.dist * Math.cos(c.pitch) * Math.cos(c.yaw)];
    const fwd = norm(sub(target, eye)), right = norm(cross(fwd, [0, 1, 0])), up = cross(right, fwd);
    const focal = rect.h / 2 / Math.tan((40 * Math.PI / 180) / 2);
    return {eye, right, up, forward: fwd, focal, cx: rect.x + rect.w / 2, cy: rect.y + rect.h / 2, rect};
  }
  const sub = (a, b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
  const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const norm = (a) => { const n = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / n, a[1] / n, a[2] / n]; };
  const NEAR = 0.05;
  const TRAIL_POINTS = 600;  // the whole path is drawn with at most this many points
  function toCamera(cam, x, y, z) {
    const d = [x - cam.eye[0], y - cam.eye[1], z - cam.eye[2]];
    return [dot(d, cam.right), dot(d, cam.up), dot(d, cam.forward)];
  }
  function toScreen(cam, v) { return [cam.cx + cam.focal * v[0] / v[2], cam.cy - cam.focal * v[1] / v[2]]; }
  function segment(cam, a, b) {  // a, b camera-space points; clipped to the near plane; -> screen points or null
    if (a[2] < NEAR && b[2] < NEAR) return null;
    if (a[2] < NEAR || b[2] < NEAR) {
      const s = (NEAR - a[2]) / (b[2] - a[2]), m = [a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1]), NEAR];
      if (a[2] < NEAR) a = m; else b = m;
    }
    return [toScreen(cam, a), toScreen(cam, b)];
  }

  // ------------------------------------------------------------------ drawing
  function laneRects(n, w, h) {
    const cols = n <= 4 ? n : Math.ceil(Math.sqrt(n)), rows = Math.ceil(n / cols);
    const rects = [];
    for (let k = 0; k < n; k++) {
      const r = Math.floor(k / cols), c = k % cols;
      rects.push({x: Math.round(c * w / cols), y: Math.round(r * h / rows), w: Math.round(w / cols), h: Math.round(h / rows)});
    }
    return rects;
  }
  function boneColor(j) {
    if (j >= N_BODY) return j < N_BODY + 15 ? COLORS.leftHand : COLORS.rightHand;
    return LEFT.has(j) ? COLORS.left : RIGHT.has(j) ? COLORS.right : COLORS.centre;
  }
  function drawFloor(cam, cx, cz, y) {
    ctx.strokeStyle = COLORS.grid; ctx.lineWidth = 1;
    const R = 6, x0 = Math.round(cx), z0 = Math.round(cz);
    ctx.beginPath();
    for (let i = -R; i <= R; i++) {
      for (const [a, b] of [[[x0 + i, y, z0 - R], [x0 + i, y, z0 + R]], [[x0 - R, y, z0 + i], [x0 + R, y, z0 + i]]]) {
        const s = segment(cam, toCamera(cam, ...a), toCamera(cam, ...b));
        if (s) { ctx.moveTo(s[0][0], s[0][1]); ctx.lineTo(s[1][0], s[1][1]); }
      }
    }
    ctx.stroke();
  }
  function drawTrail(cam, pos, J, T, f, y) {  // the root's path on the floor: all of it faint, the last 2 s strong
    const C = J * 3;
    const path = (from, to, step, style, width) => {
      ctx.strokeStyle = style; ctx.lineWidth = width; ctx.beginPath();
      let prev = null, open = false;
      for (let t = from; t <= to; t += step) {
        const v = toCamera(cam, pos[t * C], y, pos[t * C + 2]);
        if (prev && prev[2] >= NEAR && v[2] >= NEAR) {  // both in front: one continuous polyline
          if (!open) { const a = toScreen(cam, prev); ctx.moveTo(a[0], a[1]); open = true; }
          const b = toScreen(cam, v); ctx.lineTo(b[0], b[1]);
        } else if (prev) {
          const s = segment(cam, prev, v);
          if (s) { ctx.moveTo(s[0][0], s[0][1]); ctx.lineTo(s[1][0], s[1][1]); }
          open = false;
        }
        prev = v;
      }
      ctx.stroke();
    };
    path(0, T - 1, Math.max(1, Math.ceil(T / TRAIL_POINTS)), COLORS.trail, 1.5);
    path(Math.max(0, f - Math.round(2 * FPS)), f, 1, COLORS.trailNow, 2.5);
  }
  function drawSkeleton(cam, pos, J, f, parents, y) {
    const C = J * 3, base = f * C, pts = new Array(J);
    for (let j = 0; j < J; j++) pts[j] = toCamera(cam, pos[base + 3 * j], pos[base + 3 * j + 1], pos[base + 3 * j + 2]);
    const visible = (j) => (j < N_BODY ? state.show.body : state.show.hands);
    if (state.show.floor) {  // shadows on the floor
      ctx.strokeStyle = COLORS.shadow; ctx.lineWidth = 6; ctx.lineCap = "round"; ctx.beginPath();
      for (let j = 1; j < Math.min(J, N_BODY); j++) {
        const p = parents[j];
        const s = segment(cam, toCamera(cam, pos[base + 3 * j], y, pos[base + 3 * j + 2]),
          toCamera(cam, pos[base + 3 * p], y, pos[base + 3 * p + 2]));
        if (s) { ctx.moveTo(s[0][0], s[0][1]); ctx.lineTo(s[1][0], s[1][1]); }
      }
      ctx.stroke();
    }
    const bones = [];
    for (let j = 1; j < J; j++) if (visible(j)) bones.push(j);
    bones.sort((a, b) => (pts[b][2] + pts[parents[b]][2]) - (pts[a][2] + pts[parents[a]][2]));  // far first
    ctx.lineCap = "round";
    for (const j of bones) {
      const s = segment(cam, pts[parents[j]], pts[j]);
      if (!s) continue;
      const depth = Math.max(NEAR, (pts[j][2] + pts[parents[j]][2]) / 2);
      ctx.strokeStyle = boneColor(j);
      ctx.lineWidth = Math.min(14, Math.max(1.5, cam.focal * (j < N_BODY ? 0.035 : 0.012) / depth));
      ctx.beginPath(); ctx.moveTo(s[0][0], s[0][1]); ctx.lineTo(s[1][0], s[1][1]); ctx.stroke();
    }
    for (let j = 0; j < J; j++) {  // joints
      if (!visible(j) || pts[j][2] < NEAR) continue;
      const [sx, sy] = toScreen(cam, pts[j]);
      const r = j === 15 ? Math.max(4, cam.focal * 0.09 / pts[j][2]) : Math.max(2, cam.focal * (j < N_BODY ? 0.022 : 0.007) / pts[j][2]);
      ctx.fillStyle = boneColor(j);
      ctx.beginPath(); ctx.arc(sx, sy, r, 0, 2 * Math.PI); ctx.fill();
    }
  }
  let drawPending = false;
  function requestDraw() { if (!drawPending) { drawPending = true; requestAnimationFrame(() => { drawPending = false; draw(); }); } }
  function draw() {
    if (!state.data) return;
    const t = now(), frame = Math.min(Math.floor(t * FPS + 1e-6), Math.round(state.duration * FPS));
    const w = canvas.clientWidth, h = canvas.clientHeight, sc = scene(), parents = META.parents;
    ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
    ctx.fillStyle = COLORS.bg; ctx.fillRect(0, 0, w, h);
    const rects = laneRects(sc.lanes.length, w, h), cameras = [];
    sc.lanes.forEach((lane, k) => {
      const rect = rects[k], pos = state.lanes[k], J = lane.joints, f = Math.min(frame, lane.frames - 1);
      const cam = laneCamera(k, frame, rect);
      cameras.push({eye: cam.eye, right: cam.right, up: cam.up, forward: cam.forward, focal: cam.focal, cx: cam.cx,
        cy: cam.cy, rect, frame: f});
      ctx.save(); ctx.beginPath(); ctx.rect(rect.x, rect.y, rect.w, rect.h); ctx.clip();
      if (state.show.floor) drawFloor(cam, pos[f * J * 3], pos[f * J * 3 + 2], lane.floor);
      if (state.show.trail) drawTrail(cam, pos, J, lane.frames, f, lane.floor);
      drawSkeleton(cam, pos, J, f, parents, lane.floor);
      if (frame >= lane.frames) { ctx.fillStyle = COLORS.ended; ctx.fillRect(rect.x, rect.y, rect.w, rect.h); }
      ctx.fillStyle = COLORS.label; ctx.font = "13px system-ui, sans-serif";
      ctx.fillText(`${lane.name}${frame >= lane.frames ? " (ended)" : ""}`, rect.x + 10, rect.y + 20);
      ctx.restore();
      if (k > 0) { ctx.fillStyle = COLORS.axis; ctx.fillRect(rect.x, rect.y, 1, rect.h); }
    });
    state.drawn = {t, frame, cameras}; state.draws++;
    $("clock").textContent = `${fmt(t)} / ${fmt(state.duration)}`;
    $("frame").textContent = `frame ${frame} / ${Math.max(...sc.lanes.map((l) => l.frames)) - 1}`;
    drawBar(t);
  }
  function loop() {
    if (!state.playing) return;
    const t = now();
    if (t >= state.duration) {
      if (state.loop) seek(0); else { pause(); state.t = state.duration; requestDraw(); return; }
    } else if (state.audioOn && !audioUsable(t)) {
      startAudio(t);  // the music ended before the dance: the page's clock goes on from here
    }
    draw();
    requestAnimationFrame(loop);
  }
  const fmt = (t) => `${Math.floor(t / 60)}:${(t % 60).toFixed(2).padStart(5, "0")}`;

  // ------------------------------------------------------------------ time bar: music beats above, dance beats below
  let barImage = null;
  function renderBarImage() {
    const w = bar.clientWidth, h = bar.clientHeight, dpr = devicePixelRatio, sc = scene();
    bar.width = Math.round(w * dpr); bar.height = Math.round(h * dpr);
    const off = document.createElement("canvas"); off.width = bar.width; off.height = bar.height;
    const c = off.getContext("2d"); c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.fillStyle = "#e2e8f0"; c.fillRect(0, 0, w, h);
    const x = (t) => t / state.duration * w;
    c.fillStyle = "rgba(56, 161, 105, 0.35)";  // spans kept from the edited dance, under everything
    for (const [a, b] of sc.spans || []) c.fillRect(x(a), 0, Math.max(1, x(b) - x(a)), h);
    c.fillStyle = "#1a202c";
    for (const b of sc.beats || []) c.fillRect(Math.round(x(b)), 2, 1, h / 2 - 4);
    const rows = sc.lanes.length, rowH = Math.max(2, (h / 2 - 2) / Math.max(1, rows));
    sc.lanes.forEach((lane, k) => {
      c.fillStyle = LANE_TINTS[k % LANE_TINTS.length];
      for (const f of lane.motion_beats || []) c.fillRect(Math.round(x(f / FPS)), h / 2 + k * rowH, 1, rowH - 1);
    });
    barImage = off;
  }
  function drawBar(t) {
    if (!barImage || bar.width !== Math.round(bar.clientWidth * devicePixelRatio)) renderBarImage();
    const w = bar.clientWidth, h = bar.clientHeight;
    barCtx.setTransform(1, 0, 0, 1, 0, 0); barCtx.drawImage(barImage, 0, 0);
    barCtx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
    barCtx.fillStyle = "rgba(49,130,206,0.18)"; barCtx.fillRect(0, 0, t / state.duration * w, h);
    barCtx.fillStyle = "#c53030"; barCtx.fillRect(Math.round(t / state.duration * w) - 1, 0, 2, h);
  }
  let scrubbing = false;
  const barTime = (e) => (e.clientX - bar.getBoundingClientRect().left) / bar.clientWidth * state.duration;
  bar.addEventListener("pointerdown", (e) => { scrubbing = true; bar.setPointerCapture(e.pointerId); seek(barTime(e)); });
  bar.addEventListener("pointermove", (e) => { if (scrubbing) seek(barTime(e)); });
  bar.addEventListener("pointerup", () => { scrubbing = false; });

  // ------------------------------------------------------------------ orbit, zoom, pan
  let drag = null;
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("pointerdown", (e) => {
    drag = {x: e.clientX, y: e.clientY, pan: e.button === 2 || e.shiftKey};
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y, c = state.cam;
    drag.x = e.clientX; drag.y = e.clientY;
    if (drag.pan) {
      const cam = state.drawn.cameras[0], s = c.dist / (cam ? cam.focal : 500);
      for (let i = 0; i < 3; i++) c.pan[i] += -dx * s * cam.right[i] + dy * s * cam.up[i];
    } else {
      c.yaw -= dx * 0.008; c.pitch = Math.min(1.45, Math.max(-0.2, c.pitch + dy * 0.006));
    }
    requestDraw();
  });
  canvas.addEventListener("pointerup", () => { drag = null; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault(); state.cam.dist = Math.min(60, Math.max(0.6, state.cam.dist * Math.exp(e.deltaY * 0.0012)));
    requestDraw();
  }, {passive: false});
  canvas.addEventListener("dblclick", () => { Object.assign(state.cam, {yaw: 0.45, pitch: 0.28, dist: 4.2, pan: [0, 0, 0]}); requestDraw(); });

  // ------------------------------------------------------------------ controls
  function updateControls() { $("play").textContent = state.playing ? "❚❚" : "▶"; }
  $("play").addEventListener("click", () => (state.playing ? pause() : play()));
  $("speed").addEventListener("change", (e) => setRate(parseFloat(e.target.value)));
  for (const key of Object.keys(state.show)) {
    const box = $("show-" + key);
    box.checked = state.show[key];
    box.addEventListener("change", () => { state.show[key] = box.checked; requestDraw(); });
  }
  $("loop").addEventListener("change", (e) => { state.loop = e.target.checked; });
  $("link").addEventListener("click", () => {
    const t = now().toFixed(2);
    history.replaceState(null, "", `#t=${t}${META.scenes.length > 1 ? "&scene=" + state.scene : ""}`);
    if (navigator.clipboard) navigator.clipboard.writeText(location.href).catch(() => {});
    $("note").textContent = `link to ${t} s in the address bar`;
  });
  const sceneBox = $("scene");
  META.scenes.forEach((s, i) => sceneBox.add(new Option(s.name, String(i))));
  sceneBox.hidden = META.scenes.length < 2;
  sceneBox.addEventListener("change", () => openScene(parseInt(sceneBox.value, 10), 0));
  window.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;  // the browser's own shortcuts
    if (e.target.tagName === "SELECT" || e.target.tagName === "INPUT" && e.target.type !== "checkbox") return;
    const step = e.shiftKey ? 1 : 1 / FPS;
    const keys = {
      " ": () => (state.playing ? pause() : play()), ArrowRight: () => seek(now() + step),
      ArrowLeft: () => seek(now() - step), Home: () => seek(0), End: () => seek(state.duration),
      b: () => toggle("body"), h: () => toggle("hands"), t: () => toggle("trail"), f: () => toggle("follow"),
      g: () => toggle("floor"), "]": () => stepRate(1), "[": () => stepRate(-1), ".": () => jumpBeat(1), ",": () => jumpBeat(-1),
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });
  function toggle(key) { state.show[key] = !state.show[key]; $("show-" + key).checked = state.show[key]; requestDraw(); }
  function stepRate(d) {
    const rates = [...$("speed").options].map((o) => parseFloat(o.value));
    const i = Math.min(rates.length - 1, Math.max(0, rates.indexOf(state.rate) + d));
    setRate(rates[i]);
  }
  function jumpBeat(d) {
    const beats = scene().beats || [], t = now();
    const next = d > 0 ? beats.find((b) => b > t + 1e-3) : [...beats].reverse().find((b) => b < t - 1e-3);
    if (next !== undefined) seek(next);
  }

  // ------------------------------------------------------------------ scenes, sizing, URL fragment
  function resize() {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.round(w * devicePixelRatio); canvas.height = Math.round(h * devicePixelRatio);
    barImage = null; requestDraw();
  }
  window.addEventListener("resize", resize);
  let openToken = 0;  // the scene asked for last wins when decodings overlap
  async function openScene(i, t) {
    const token = ++openToken;
    pause();
    state.data = null;  // nothing is drawn from a half-switched scene
    sceneBox.value = String(i);
    const sc = META.scenes[i];
    $("status").textContent = `loading ${sc.name}…`; $("note").textContent = "";
    const data = await loadScene(i);
    if (token !== openToken) return;
    if (sc.audio) {
      audio.src = data.audioUrl;
      await new Promise((ok) => {
        if (audio.readyState >= 1) { ok(); return; }
        audio.addEventListener("loadedmetadata", ok, {once: true});
        audio.addEventListener("error", () => { $("note").textContent = "the music could not be decoded here"; ok(); }, {once: true});
      });
      if (token !== openToken) return;
    } else {
      audio.removeAttribute("src"); audio.load();
    }
    for (const k of [...decoded.keys()]) {  // one decoded scene in memory at a time
      if (k !== i) { decoded.get(k).then((d) => d.audioUrl && URL.revokeObjectURL(d.audioUrl)); decoded.delete(k); }
    }
    Object.assign(state, {scene: i, data, lanes: data.lanes, duration: sc.duration, t: 0});
    $("status").textContent = sc.audio ? `♪ ${sc.audio.name}` : "no music";
    if ((sc.spans || []).length) $("note").textContent = `shaded on the time bar: ${sc.span_label}`;
    $("show-hands").disabled = !sc.lanes.some((lane) => lane.joints > N_BODY);  // body-only dances
    $("title").textContent = sc.name === META.title ? META.title : `${META.title} · ${sc.name}`;
    barImage = null; seek(t); resize();
  }
  function fragment() {
    const p = new URLSearchParams(location.hash.slice(1));
    const t = parseFloat(p.get("t")), s = p.get("scene");
    let i = state.scene;
    if (s !== null) { const k = META.scenes.findIndex((x, j) => String(j) === s || x.name === s); if (k >= 0) i = k; }
    return {t: Number.isFinite(t) ? t : null, scene: i};
  }
  window.addEventListener("hashchange", async () => {
    const {t, scene: i} = fragment();
    pause();
    if (i !== state.scene || !state.data) await openScene(i, t ?? 0); else if (t !== null) seek(t);
  });

  // for tests and scripts: seek, and where every lane's camera looked when the last frame was drawn
  const drawnFrame = () => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
  window.soulViewer = {
    meta: META,
    seek: async (t) => { pause(); seek(t); await drawnFrame(); return state.drawn; },
    openScene: async (i, t = 0) => { await openScene(i, t); await drawnFrame(); return state.drawn; },
    seekLive: (t) => seek(t),  // as the time bar does: playing or paused
    state: () => ({t: now(), playing: state.playing, rate: state.rate, scene: state.scene, show: {...state.show},
      drawn: state.drawn, duration: state.duration, draws: state.draws}),
    play, pause, setRate,
    drawMs: (n = 120) => {  // mean time of n full redraws (ms), for the benchmark
      const t0 = performance.now();
      for (let i = 0; i < n; i++) { state.t = (i * 7.3) % state.duration; draw(); }
      return (performance.now() - t0) / n;
    },
    ready: null,
  };
  const start = fragment();
  window.soulViewer.ready = openScene(start.scene, start.t ?? 0).then(drawnFrame).then(() => {
    document.body.dataset.ready = "1";
  }).catch((err) => { $("status").textContent = "could not open the dance: " + err.message; throw err; });
})();
