// dagd's dashboard: jobs, one job (graph, task stream, failures, tasks) and
// workers, kept live by server-sent events. Plain JavaScript and SVG, no
// library; every text from dagd goes into the page as text, never as HTML.
"use strict";

const STATES = ["PENDING", "READY", "ASSIGNED", "RUNNING", "SUCCEEDED",
                "FAILED", "UPSTREAM_FAILED", "CANCELLED"];
const JOB_STATES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];
const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const SVG_NS = "http://www.w3.org/2000/svg";
// What the pages measured, for the browser tests and the README's numbers.
window.dagdTimings = {};
// Who the page is (GET /api/whoami): {identities, name, tenant, role}.
let me = null;
const TOKEN_COOKIE = "dagd_token";

// ---- Small helpers --------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// replaceChildren, leaving out the null and undefined children.
function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

function stateColor(state) {
  return "var(--" + state.toLowerCase() + ")";
}

function fnColor(fn) {
  let hash = 0;
  for (let i = 0; i < fn.length; i++) hash = (hash * 31 + fn.charCodeAt(i)) | 0;
  return "hsl(" + (Math.abs(hash) % 360) + ",60%,55%)";
}

function badge(state) {
  return h("span", {class: "badge " + state, style: "background:" + stateColor(state)}, state);
}

function progressBar(counts, total, wide) {
  const bar = h("div", {class: "progress" + (wide ? " wide" : "")});
  for (const state of STATES) {
    const n = counts[state] || 0;
    if (!n || !total) continue;
    bar.append(h("span", {
      style: "width:" + (100 * n / total) + "%;background:" + stateColor(state),
      title: state + ": " + n}));
  }
  return bar;
}

function percentDone(job) {
  if (!job.total) return 100;
  let done = 0;
  for (const state of ["SUCCEEDED", "FAILED", "UPSTREAM_FAILED", "CANCELLED"]) {
    done += job.counts[state] || 0;
  }
  return Math.floor(100 * done / job.total);
}

function formatTime(ms) {
  return ms === null ? "" : new Date(ms).toLocaleString();
}

function formatDuration(ms) {
  if (ms === null || ms < 0) return "";
  if (ms < 1000) return ms + " ms";
  const sec = ms / 1000;
  if (sec < 60) return sec.toFixed(1) + " s";
  const min = Math.floor(sec / 60);
  if (min < 60) return min + " min " + Math.floor(sec % 60) + " s";
  return Math.floor(min / 60) + " h " + (min % 60) + " min";
}

function elapsed(job) {
  if (job.started === null) return "";
  return formatDuration((job.finished !== null ? job.finished : Date.now()) - job.started);
}

function formatBytes(n) {
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return n.toFixed(1) + " " + units[i];
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (response.status === 401) {
    // No token, or one dagd no longer lists (--tokens_file was reread).
    showTokenForm((body.error || {}).message);
  }
  if (!response.ok) {
    const e = body.error || {};
    throw new Error((e.field ? e.field + ": " : "") + (e.message || response.status));
  }
  return body;
}

// Calls fn at most once per `ms`, the last call always running.
function throttle(fn, ms) {
  let last = 0, timer = null;
  return function () {
    const wait = last + ms - Date.now();
    if (wait <= 0) { last = Date.now(); fn(); return; }
    if (!timer) timer = setTimeout(() => { timer = null; last = Date.now(); fn(); }, wait);
  };
}

// ---- Identity -------------------------------------------------------------

function mayCancel() {
  return me !== null && (me.role === "submit" || me.role === "admin");
}

// The page's token lives in a cookie, which the browser sends with every
// request, event streams included (EventSource cannot set headers). Strict:
// never sent from another site's page. A session cookie: gone with the
// browser session.
function storeToken(token) {
  document.cookie = TOKEN_COOKIE + "=" + encodeURIComponent(token) +
    "; Path=/; SameSite=Strict" + (location.protocol === "https:" ? "; Secure" : "");
}

function forgetToken() {
  document.cookie = TOKEN_COOKIE + "=; Path=/; SameSite=Strict; Max-Age=0" +
    (location.protocol === "https:" ? "; Secure" : "");
}

function showTokenForm(why) {
  if (document.getElementById("token-form")) return;
  if (current) { current.close(); current = null; }
  const input = h("input", {id: "token-input", type: "password", autocomplete: "off",
    size: "48", placeholder: "token", "aria-label": "token"});
  const form = h("form", {id: "token-form", class: "panel token-form", onsubmit: (e) => {
    e.preventDefault();
    if (!input.value.trim()) return;
    storeToken(input.value.trim());
    location.reload();
  }},
  h("h1", {}, "Sign in"),
  h("p", {class: "muted"}, "This dagd needs a token (a line of its --tokens_file). " +
    "It is kept in a cookie of this browser session."),
  why ? h("p", {class: "error", id: "token-why"}, why) : null,
  h("div", {class: "toolbar"}, input, h("button", {id: "token-submit", type: "submit"}, "Use token")));
  document.getElementById("main").replaceChildren(form);
  input.focus();
}

function showIdentity() {
  const el = document.getElementById("whoami");
  if (!me.identities) { el.hidden = true; return; }
  fill(el, h("span", {id: "whoami-text"}, me.name + " · " + me.tenant + " · " + me.role), " ",
    h("a", {href: "#", id: "sign-out", onclick: (e) => {
      e.preventDefault();
      forgetToken();
      location.reload();
    }}, "sign out"));
  el.hidden = false;
}

// ---- Live updates ---------------------------------------------------------

let current = null;  // the page shown: {close()}

function openEvents(path, handlers) {
  const source = new EventSource(path);
  const live = document.getElementById("live");
  source.onopen = () => live.classList.add("on");
  source.onerror = () => live.classList.remove("on");
  for (const [event, fn] of Object.entries(handlers)) {
    source.addEventListener(event, (e) => fn(JSON.parse(e.data)));
  }
  return source;
}

// ---- Jobs -----------------------------------------------------------------

function jobsPage(params) {
  const state = params.get("state") || "";
  const main = document.getElementById("main");
  const select = h("select", {id: "state-filter", onchange: (e) => {
    location.hash = "#/" + (e.target.value ? "?state=" + e.target.value : "");
  }}, h("option", {value: ""}, "all states"),
      JOB_STATES.map((st) => h("option", {value: st}, st)));
  select.value = state;
  const body = h("tbody", {id: "jobs"});
  const more = h("button", {id: "older", hidden: ""}, "Older jobs");
  const message = h("p", {class: "muted"});
  // With identities, whose job it is (an admin sees every tenant's).
  const tenants = me.identities;
  main.replaceChildren(
    h("h1", {}, "Jobs"),
    h("div", {class: "toolbar"}, h("label", {}, "State ", select), message),
    h("table", {}, h("thead", {}, h("tr", {},
      ["Job", "Name", tenants ? "Tenant" : null, "State", "Progress", "Tasks", "Submitted",
       "Elapsed"].filter((t) => t).map((t) => h("th", {}, t)))), body),
    more);

  let older = false;  // showing older pages: live updates would reorder them
  function row(job) {
    const pct = percentDone(job);
    return h("tr", {"data-job": job.id, "data-state": job.state},
      h("td", {}, h("a", {href: "#/jobs/" + encodeURIComponent(job.id)}, job.id)),
      h("td", {}, job.name),
      tenants ? h("td", {"data-tenant": job.tenant}, job.tenant) : null,
      h("td", {}, badge(job.state)),
      h("td", {}, h("div", {class: "toolbar"}, progressBar(job.counts, job.total),
        h("span", {class: "pct", "data-progress": pct}, pct + "%"))),
      h("td", {}, job.total.toLocaleString()),
      h("td", {}, formatTime(job.submitted)),
      h("td", {}, elapsed(job)));
  }
  function show(answer, append) {
    const rows = answer.jobs.map(row);
    if (append) body.append(...rows); else body.replaceChildren(...rows);
    message.textContent = body.children.length ? "" : "No jobs" + (state ? " " + state : "") + ".";
    more.hidden = !answer.next_page_token;
    more.onclick = () => {
      older = true;
      load(answer.next_page_token, true);
    };
    if (!window.dagdTimings.jobs) window.dagdTimings.jobs = performance.now();
  }
  function load(token, append) {
    const q = new URLSearchParams({page_size: "50"});
    if (state) q.set("state", state);
    if (token) q.set("page_token", token);
    return api("/api/jobs?" + q).then((a) => show(a, append))
      .catch((e) => { message.textContent = e.message; message.className = "error"; });
  }
  load("", false);
  // The stream carries the newest jobs; with a filter, it says when to ask.
  const refetch = throttle(() => load("", false), 1000);
  const events = openEvents("/api/events", {
    jobs: (answer) => {
      if (older) return;
      if (state) refetch(); else show(answer, false);
    },
  });
  return {close: () => events.close()};
}

// ---- One job --------------------------------------------------------------

function jobPage(jobId) {
  const main = document.getElementById("main");
  const head = h("div", {id: "job-head"});
  const graph = h("div", {class: "panel", id: "graph"});
  const stream = h("div", {class: "panel", id: "stream"});
  const failures = h("div", {id: "failures"});
  const tasks = h("div", {id: "tasks"});
  main.replaceChildren(head, h("h2", {}, "Graph"), graph,
    h("h2", {}, "Task stream"), stream, h("h2", {}, "Failed tasks"), failures,
    h("h2", {}, "Tasks"), tasks);
  const enc = encodeURIComponent(jobId);
  let job = null;
  let ended = false;

  // Made once, not with every update: a button replaced four times a
  // second would lose clicks. Only for those who may cancel (role submit
  // or admin; everyone without --tokens_file).
  const cancel = h("button", {id: "cancel", class: "danger", hidden: "", onclick: () => {
    if (!confirm("Cancel job " + job.id + "?")) return;
    api("/api/jobs/" + enc + "/cancel", {
      method: "POST", headers: {"X-Requested-By": "dagd-dashboard"},
    }).catch((e) => alert(e.message));
  }}, "Cancel job");
  const title = h("h1");
  const state = h("span");
  const details = h("div");
  head.replaceChildren(h("div", {class: "toolbar"}, title, state, cancel), details);

  function showHead() {
    title.textContent = job.id + (job.name ? " · " + job.name : "");
    fill(state, badge(job.state), h("span", {id: "job-state", hidden: ""}, job.state));
    cancel.hidden = FINAL.has(job.state) || !mayCancel();
    fill(details,
      progressBar(job.counts, job.total, true),
      h("div", {class: "chips", id: "counts"}, STATES.filter((st) => job.counts[st]).map(
        (st) => h("span", {class: "chip", "data-state": st},
          h("span", {style: "color:" + stateColor(st)}, "\u25cf"), " " + st,
          h("b", {}, job.counts[st].toLocaleString())))),
      h("div", {class: "kv muted"}, [
        ["submitted", formatTime(job.submitted)], ["elapsed", elapsed(job)],
        ["tasks", job.total.toLocaleString()], ["priority", job.priority],
        ...(me.identities ? [["tenant", job.tenant]] : []),
      ].flatMap(([k, v]) => [h("span", {}, k), h("span", {}, v)])),
      job.error ? h("p", {class: "error"}, job.error) : null);
  }

  function refreshDetails() {
    return Promise.all([
      api("/api/jobs/" + enc + "/graph").then((g) => drawGraph(graph, g)),
      api("/api/jobs/" + enc + "/stream").then((st) => drawStream(stream, st)),
      loadFailures(),
      taskTable.reload(),
    ]).catch((e) => graph.replaceChildren(h("p", {class: "error"}, e.message)));
  }
  function loadFailures() {
    return api("/api/jobs/" + enc + "/tasks?state=FAILED&page_size=50").then((a) => {
      fill(failures, a.tasks.length ? h("table", {id: "failed-tasks"},
        h("thead", {}, h("tr", {}, ["Task", "Function", "Attempts", "Worker", "Error"].map((t) => h("th", {}, t)))),
        h("tbody", {}, a.tasks.map((t) => h("tr", {"data-task": t.id},
          h("td", {}, t.id), h("td", {}, t.fn), h("td", {}, t.attempts), h("td", {}, t.worker),
          h("td", {class: "wrap error"}, t.error))))) : h("p", {class: "muted"}, "None."),
        a.total > a.tasks.length ? h("p", {class: "muted"}, "and " + (a.total - a.tasks.length) + " more") : null);
    });
  }
  const taskTable = pagedTasks(tasks, enc);
  const refresh = throttle(refreshDetails, 1000);

  const start = performance.now();
  api("/api/jobs/" + enc).then((j) => {
    job = j;
    showHead();
    return refreshDetails();
  }).then(() => {
    if (!window.dagdTimings.job) window.dagdTimings.job = performance.now();
    window.dagdTimings.jobLoad = performance.now() - start;
  }).catch((e) => fill(details, h("p", {class: "error", id: "job-error"}, e.message)));

  const events = openEvents("/api/jobs/" + enc + "/events", {
    job: (j) => {
      job = j;
      showHead();
      if (FINAL.has(j.state)) {
        ended = true;
        events.close();
        document.getElementById("live").classList.remove("on");
        refreshDetails();  // the final states, not throttled away
      } else {
        refresh();
      }
    },
    error: () => events.close(),
  });
  return {close: () => events.close()};
}

function pagedTasks(container, enc) {
  const select = h("select", {id: "task-filter"}, h("option", {value: ""}, "all states"),
    STATES.map((st) => h("option", {value: st}, st)));
  const body = h("tbody");
  const info = h("span", {class: "muted"});
  const prev = h("button", {}, "Previous"), next = h("button", {}, "Next");
  container.replaceChildren(h("div", {class: "toolbar"}, select, prev, next, info),
    h("table", {}, h("thead", {}, h("tr", {},
      ["Task", "Function", "State", "Attempts", "Worker", "Waiting / error"].map((t) => h("th", {}, t)))), body));
  const pageSize = 100;
  let offset = 0;
  function reload() {
    const q = new URLSearchParams({page_size: String(pageSize)});
    if (select.value) q.set("state", select.value);
    if (offset) q.set("page_token", String(offset));
    return api("/api/jobs/" + enc + "/tasks?" + q).then((a) => {
      body.replaceChildren(...a.tasks.map((t) => h("tr", {"data-task": t.id},
        h("td", {}, t.id), h("td", {}, t.fn), h("td", {}, badge(t.state)),
        h("td", {}, t.attempts), h("td", {}, t.worker),
        h("td", {class: "wrap" + (t.error ? " error" : " muted")}, t.error || t.waiting))));
      info.textContent = a.total ? (offset + 1) + "–" + (offset + a.tasks.length) +
        " of " + a.total.toLocaleString() : "no tasks";
      prev.disabled = offset === 0;
      next.disabled = !a.next_page_token;
    });
  }
  select.onchange = () => { offset = 0; reload(); };
  prev.onclick = () => { offset = Math.max(0, offset - pageSize); reload(); };
  next.onclick = () => { offset += pageSize; reload(); };
  return {reload};
}

// ---- The graph ------------------------------------------------------------

// Columns by depth; a column with more than MAX_ROWS nodes wraps into
// several, so a wide fan-out stays on screen.
const MAX_ROWS = 40;

function layoutColumns(items, depthOf, cellW, cellH) {
  const byDepth = new Map();
  items.forEach((item, i) => {
    const d = depthOf(item);
    if (!byDepth.has(d)) byDepth.set(d, []);
    byDepth.get(d).push(i);
  });
  const depths = [...byDepth.keys()].sort((a, b) => a - b);
  const pos = new Array(items.length);
  let x = 20, height = 0;
  for (const d of depths) {
    const members = byDepth.get(d);
    const cols = Math.ceil(members.length / MAX_ROWS);
    members.forEach((i, k) => {
      pos[i] = {x: x + Math.floor(k / MAX_ROWS) * cellW, y: 20 + (k % MAX_ROWS) * cellH};
    });
    height = Math.max(height, Math.min(members.length, MAX_ROWS) * cellH);
    x += cols * cellW + cellW / 2;
  }
  return {pos, width: x, height: height + 40};
}

function drawGraph(container, g) {
  const svg = g.grouped ? groupedGraph(g) : taskGraph(g);
  container.replaceChildren(
    h("p", {class: "muted"}, g.grouped
      ? g.tasks.toLocaleString() + " tasks in " + g.groups.length +
        " groups (function × depth); colours: share of each state"
      : g.tasks + " tasks"),
    svg);
}

function taskGraph(g) {
  const {pos, width, height} = layoutColumns(g.nodes, (n) => n.depth, 120, 22);
  let d = "";
  for (const [a, b] of g.edges) {
    d += "M" + (pos[a].x + 6) + " " + pos[a].y + "L" + (pos[b].x - 6) + " " + pos[b].y;
  }
  const svg = s("svg", {id: "graph-svg", width, height, viewBox: "0 0 " + width + " " + height});
  svg.append(s("path", {class: "edges", d}));
  g.nodes.forEach((n, i) => {
    svg.append(s("g", {class: "node", "data-task": n.id, "data-state": n.state},
      s("circle", {cx: pos[i].x, cy: pos[i].y, r: 6, fill: stateColor(n.state)},
        s("title", {}, n.id + " (" + n.fn + "): " + n.state)),
      g.nodes.length <= 200 ? s("text", {x: pos[i].x + 9, y: pos[i].y + 4}, n.id) : null));
  });
  return svg;
}

function groupedGraph(g) {
  const W = 150, H = 34;
  const {pos, width, height} = layoutColumns(g.groups, (gr) => gr.depth, W + 50, H + 10);
  const svg = s("svg", {id: "graph-svg", width, height, viewBox: "0 0 " + width + " " + height});
  const maxEdge = Math.max(1, ...g.edges.map((e) => e[2]));
  for (const [a, b, count] of g.edges) {
    svg.append(s("path", {class: "edges", "stroke-width": 1 + 4 * Math.log1p(count) / Math.log1p(maxEdge),
      d: "M" + (pos[a].x + W) + " " + (pos[a].y + H / 2) + "L" + pos[b].x + " " + (pos[b].y + H / 2)},
      s("title", {}, count + " edges")));
  }
  g.groups.forEach((gr, i) => {
    const group = s("g", {class: "group", "data-fn": gr.fn, "data-depth": gr.depth});
    group.append(s("rect", {x: pos[i].x, y: pos[i].y, width: W, height: H, rx: 4,
      fill: "#fff", stroke: "#8c959f"}));
    let x = pos[i].x;
    for (const st of STATES) {
      const n = gr.counts[st] || 0;
      if (!n) continue;
      const w = W * n / gr.total;
      group.append(s("rect", {x, y: pos[i].y + H - 8, width: w, height: 8, fill: stateColor(st)}));
      x += w;
    }
    group.append(s("text", {x: pos[i].x + 6, y: pos[i].y + 15}, gr.fn + " ×" + gr.total.toLocaleString()));
    group.append(s("title", {}, gr.fn + " at depth " + gr.depth + ": " +
      STATES.filter((st) => gr.counts[st]).map((st) => st + " " + gr.counts[st]).join(", ")));
    svg.append(group);
  });
  return svg;
}

// ---- The task stream ------------------------------------------------------

function drawStream(container, st) {
  if (!st.bars.length) {
    container.replaceChildren(h("p", {class: "muted"}, "No attempt has started yet."));
    return;
  }
  const ROW = 12, LABEL = 150, WIDTH = 1000;
  const now = Date.now();
  let t0 = Infinity, t1 = -Infinity;
  for (const b of st.bars) {
    t0 = Math.min(t0, b.start);
    t1 = Math.max(t1, b.end === null ? Math.max(now, b.start) : b.end);
  }
  const span = Math.max(1, t1 - t0);
  const top = new Map();
  let y = 20;
  for (const w of st.workers) { top.set(w.id, y); y += w.rows * ROW + 6; }
  const svg = s("svg", {id: "stream-svg", width: LABEL + WIDTH + 10, height: y + 10});
  for (const w of st.workers) {
    svg.append(s("text", {x: 4, y: top.get(w.id) + 10}, w.id + " (" + w.rows + ")"));
  }
  svg.append(s("text", {x: LABEL, y: 12}, "0"),
    s("text", {x: LABEL + WIDTH - 60, y: 12}, formatDuration(span)));
  for (const b of st.bars) {
    const x = LABEL + WIDTH * (b.start - t0) / span;
    const end = b.end === null ? now : b.end;
    const w = Math.max(1, WIDTH * (end - b.start) / span);
    const by = top.get(b.worker) + b.row * ROW;
    svg.append(s("rect", {class: "bar" + (b.failed ? " failed" : ""), x, y: by, width: w,
      height: ROW - 2, fill: fnColor(b.fn), "data-task": b.task, "data-attempt": b.attempt},
      s("title", {}, b.task + " #" + b.attempt + " (" + b.fn + ") on " + b.worker + ": " +
        (b.end === null ? "running" : formatDuration(b.end - b.start)) + (b.failed ? ", failed" : ""))));
    if (b.failed) {
      svg.append(s("line", {class: "fail-mark", x1: x + w, y1: by - 1, x2: x + w, y2: by + ROW - 1}));
    }
  }
  fill(container,
    st.omitted ? h("p", {class: "muted"}, "the latest " + st.bars.length + " attempts; " +
      st.omitted + " earlier ones are not drawn") : null, svg);
}

// ---- Workers --------------------------------------------------------------

function workersPage() {
  const main = document.getElementById("main");
  const body = h("tbody", {id: "workers"});
  main.replaceChildren(h("h1", {}, "Workers"), h("table", {}, h("thead", {}, h("tr", {},
    ["Worker", "Name", "Pool", "Busy slots", "Tasks/s", "Labels", "Runtimes", "Functions", "Held", "Spilled",
      "Connected"]
      .map((t) => h("th", {}, t)))), body));
  // Each worker's tasks per second, from its finished count two loads
  // apart ("-" until there are two).
  let last = new Map();
  function rate(w, now) {
    const before = last.get(w.id);
    if (!before || now <= before.at) return "-";
    return ((w.tasks_finished - before.count) * 1000 / (now - before.at)).toFixed(1);
  }
  function load() {
    return api("/api/workers").then((a) => {
      const now = Date.now();
      const rates = new Map(a.workers.map((w) => [w.id, rate(w, now)]));
      last = new Map(a.workers.map((w) => [w.id, {count: w.tasks_finished, at: now}]));
      body.replaceChildren(...a.workers.map((w) => h("tr", {"data-worker": w.id},
        h("td", {}, w.id),
        h("td", {}, w.name, w.draining ? h("span", {class: "draining"}, " draining") : ""),
        h("td", {}, w.pool),
        h("td", {}, h("div", {class: "toolbar"}, progressBar({RUNNING: w.busy}, w.slots),
          w.busy + " / " + w.slots)),
        h("td", {class: "tasks-rate"}, rates.get(w.id)),
        h("td", {class: "wrap"}, Object.entries(w.labels).map(([k, v]) => k + "=" + v).join(", ")),
        h("td", {}, w.runtimes.join(", ")), h("td", {}, w.functions),
        h("td", {}, formatBytes(w.held_bytes)), h("td", {}, formatBytes(w.spilled_bytes)),
        h("td", {}, formatTime(w.connected)))));
    });
  }
  load();
  // Workers have no event stream: one ListWorkers (from memory) every 2 s
  // per open page.
  const timer = setInterval(load, 2000);
  return {close: () => clearInterval(timer)};
}

// ---- Routing --------------------------------------------------------------

function route() {
  if (current) current.close();
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  document.getElementById("nav-jobs").classList.toggle("active", !path.startsWith("/workers"));
  document.getElementById("nav-workers").classList.toggle("active", path.startsWith("/workers"));
  const job = path.match(/^\/jobs\/(.+)$/);
  if (job) current = jobPage(decodeURIComponent(job[1]));
  else if (path === "/workers") current = workersPage();
  else current = jobsPage(params);
}

// Who the page is first: a 401 shows the token form instead of a page.
api("/api/whoami").then((who) => {
  me = who;
  showIdentity();
  window.addEventListener("hashchange", route);
  route();
}).catch((e) => {
  if (!document.getElementById("token-form")) {
    document.getElementById("main").replaceChildren(h("p", {class: "error"}, e.message));
  }
});
