// tandem Cluster Management: forms send JSON to the API, errors go beside their fields,
// long operations and the status follow server-sent events. No outside resources.
"use strict";

const T = JSON.parse(document.getElementById("i18n").textContent);
const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function api(method, url, body) {
  const options = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {
    return { status: 0, data: { message: T.error + ": " + e } };
  }
  let data = {};
  try { data = await response.json(); } catch (e) { data = { message: T.error + " (HTTP " + response.status + ")" }; }
  return { status: response.status, data };
}

function formData(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    const kind = el.dataset.type;
    if (kind === "bool") out[el.name] = el.checked;
    else if (kind === "set") { out[el.name] = out[el.name] || []; if (el.checked) out[el.name].push(el.value); }
    else if (kind === "list") out[el.name] = el.value.split(/[\s,;]+/).filter(Boolean);
    else if (kind === "int") out[el.name] = el.value === "" ? null : Number(el.value);
    else if (el.type === "radio") { if (el.checked) out[el.name] = el.value; }
    else out[el.name] = el.value;
  }
  return out;
}

function clearErrors(form) {
  form.querySelectorAll(".error").forEach((e) => { e.textContent = ""; });
  form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
}

function showErrors(form, data) {
  const general = [];
  for (const err of data.errors || []) {
    const box = err.field && form.querySelector(`[data-field="${CSS.escape(err.field)}"]`);
    if (box) {
      box.classList.add("invalid");
      const slot = box.querySelector(".error");
      slot.textContent = (slot.textContent ? slot.textContent + " " : "") + err.message;
    } else {
      general.push((err.key ? err.key + ": " : "") + err.message);
    }
  }
  const formError = form.querySelector(".form-error");
  if (formError) formError.textContent = [data.message, ...general].filter(Boolean).join(" ");
  const first = form.querySelector(".invalid input, .invalid select");
  if (first) first.focus();
}

function showResult(form, data, ok) {
  const box = form.querySelector(".result");
  if (!box) return;
  box.hidden = false;
  box.className = "result " + (ok && data.complete !== false ? "ok" : "warn");
  box.replaceChildren();
  const p = document.createElement("p");
  p.textContent = data.message || "";
  box.append(p);
  if (data.lines && data.lines.length) {
    const ul = document.createElement("ul");
    for (const line of data.lines) {
      const li = document.createElement("li");
      li.textContent = line;
      ul.append(li);
    }
    box.append(ul);
  }
}

async function submitForm(form, extra) {
  const button = form.querySelector('button[type="submit"]');
  if (button) { button.disabled = true; button.dataset.label = button.textContent; button.textContent = T.saving; }
  const body = Object.assign(formData(form), extra || {});
  const { status, data } = await api(form.dataset.method || "POST", form.dataset.api, body);
  if (button) { button.disabled = false; button.textContent = button.dataset.label; }
  clearErrors(form);
  const confirmBox = form.querySelector(".confirm");
  if (confirmBox) confirmBox.hidden = true;
  if (status === 409 && data.needs_confirmation && confirmBox) {
    confirmBox.querySelector("p").textContent = data.message;
    confirmBox.querySelector("[data-cancel]").textContent = T.cancel;
    confirmBox.hidden = false;
    confirmBox.querySelector("[data-confirm]").onclick = () => { confirmBox.hidden = true; submitForm(form, { confirm: true }); };
    confirmBox.querySelector("[data-cancel]").onclick = () => { confirmBox.hidden = true; };
    return;
  }
  if (status >= 200 && status < 300 && form.dataset.job !== undefined && data.id) {
    followJob(form, data.node, data, () => location.reload());
    return;
  }
  if (status >= 200 && status < 300) {
    const after = form.dataset.after;
    if (after === "login") {
      const next = new URLSearchParams(location.search).get("next");
      location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : "/");
      return;
    }
    if (after === "reload") { location.reload(); return; }
    if (after === "clear") form.querySelectorAll('input[type="password"]').forEach((i) => { i.value = ""; });
    showResult(form, data, true);
    return;
  }
  showErrors(form, data);
}

// A form whose answer is a file (the configuration bundle): saved by the browser under the
// name the server gives; a refusal is JSON like any other form's.
async function downloadForm(form) {
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true; button.dataset.label = button.textContent; button.textContent = T.saving;
  let response;
  try {
    response = await fetch(form.dataset.api, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/json" },
      body: JSON.stringify(formData(form)),
    });
  } catch (e) {
    response = null;
    showErrors(form, { message: T.error + ": " + e });
  }
  button.disabled = false; button.textContent = button.dataset.label;
  if (!response) return;
  clearErrors(form);
  const box = form.querySelector(".result");
  if (box) box.hidden = true;
  if (!response.ok) {
    let data;
    try { data = await response.json(); } catch (e) { data = { message: T.error + " (HTTP " + response.status + ")" }; }
    showErrors(form, data);
    return;
  }
  const blob = await response.blob();
  const match = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "");
  const name = match ? match[1] : "bundle.tar";
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  form.querySelectorAll('input[type="password"]').forEach((i) => { i.value = ""; });
  showResult(form, { message: T.downloaded + ": " + name }, true);
}

function setupForms() {
  document.querySelectorAll("form[data-api]").forEach((form) => {
    const send = form.dataset.download !== undefined ? downloadForm : submitForm;
    form.addEventListener("submit", (event) => { event.preventDefault(); send(form); });
  });
  document.querySelectorAll("[data-logout]").forEach((b) => b.addEventListener("click", async () => {
    await api("POST", "/api/logout");
    location.assign("/login");
  }));
  document.querySelectorAll("[data-dismiss]").forEach((b) => b.addEventListener("click", async () => {
    const { status } = await api("DELETE", "/api/notices/" + encodeURIComponent(b.dataset.dismiss));
    if (status < 300) b.closest("[data-notice]").remove();
  }));
}

function setupStatus() {
  const live = document.getElementById("status-live");
  if (!live) return;
  const marker = document.querySelector("[data-live]");
  const source = new EventSource(live.dataset.stream);
  source.addEventListener("status", (event) => {
    live.innerHTML = JSON.parse(event.data).html;
    if (marker) { marker.textContent = T.live; marker.classList.remove("off"); }
  });
  source.onerror = () => { if (marker) { marker.textContent = T.reconnecting; marker.classList.add("off"); } };
}

function cell(row, text, tag) {
  const c = document.createElement(tag || "td");
  c.textContent = text;
  row.append(c);
  return c;
}

async function loadUpdates(section) {
  const node = section.dataset.updatesNode;
  const list = section.querySelector(".updates-list");
  const { data } = await api("GET", "/api/updates/" + node);
  list.replaceChildren();
  const runsOn = section.querySelector("[data-runs-on]");
  if (runsOn) runsOn.textContent = data.node ? "(" + T.runson + " " + data.node + ")" : "";
  if (!data.available) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = T.notavailable + ": " + (data.reason || data.message || "");
    list.append(p);
    return;
  }
  const info = document.createElement("p");
  const checked = data.checked ? new Date(data.checked * 1000).toLocaleString() : "–";
  info.textContent = `${data.packages.length} ${T.count} (${data.security} ${T.security}) · ${T.checked}: ${checked}`;
  list.append(info);
  if (!data.packages.length) return;
  const table = document.createElement("table");
  table.className = "grid";
  const head = document.createElement("tr");
  [T.package, T.installed, T.new].forEach((h) => cell(head, h, "th"));
  table.append(head);
  for (const p of data.packages) {
    const row = document.createElement("tr");
    cell(row, p.name + (p.security ? " (" + T.security + ")" : ""));
    cell(row, p.installed);
    cell(row, p.version);
    table.append(row);
  }
  const wrap = document.createElement("div");
  wrap.className = "scroll";
  wrap.append(table);
  list.append(wrap);
}

function followJob(section, node, job, done) {
  const pre = section.querySelector("pre.job");
  pre.hidden = false;
  pre.textContent = "";
  const source = new EventSource(`/api/jobs/${node}/${job.id}/stream`);
  source.addEventListener("job", (event) => {
    const view = JSON.parse(event.data);
    pre.textContent += view.lines.join("\n") + (view.lines.length ? "\n" : "");
    pre.scrollTop = pre.scrollHeight;
  });
  source.onerror = () => {
    // The node went down (a shutdown) or the connection broke: say so, do not retry.
    if (source.readyState === EventSource.CLOSED || source.readyState === EventSource.CONNECTING) {
      source.close();
      pre.textContent += T.lost + "\n";
    }
  };
  source.addEventListener("end", (event) => {
    const state = JSON.parse(event.data).state;
    pre.textContent += (state === "done" ? T.finished : T.failed) + "\n";
    source.close();
    if (done) setTimeout(done, 1200); else loadUpdates(section);
  });
}

function setupActions() {
  document.querySelectorAll("[data-action]").forEach((button) => button.addEventListener("click", async () => {
    const box = button.closest("section").querySelector(".action-result");
    const label = button.textContent;
    button.disabled = true;
    button.textContent = T.saving;
    const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
    const { status, data } = await api(button.dataset.method || "POST", button.dataset.action, body);
    button.disabled = false;
    button.textContent = label;
    if (status >= 200 && status < 300) { location.reload(); return; }
    if (box) { box.hidden = false; box.className = "action-result result warn"; box.textContent = data.message || T.error; }
  }));
  document.querySelectorAll("[data-job-api]").forEach((button) => button.addEventListener("click", () => {
    const section = button.closest("section");
    const box = section.querySelector(".action-result");
    const go = async () => {
      const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
      if (body && button.dataset.withForce !== undefined) {
        body.force = Boolean(section.querySelector("input[name=force]")?.checked);
      }
      box.hidden = true;
      const { status, data } = await api("POST", button.dataset.jobApi, body);
      if (status >= 300) { box.hidden = false; box.className = "action-result result warn"; box.textContent = data.message || T.error; return; }
      followJob(section, data.node, data, () => location.reload());
    };
    if (!button.dataset.warn) { go(); return; }
    const confirmBox = section.querySelector(".confirm");
    confirmBox.querySelector("p").textContent = button.dataset.warn;
    confirmBox.hidden = false;
    confirmBox.querySelector("[data-confirm]").onclick = () => { confirmBox.hidden = true; go(); };
    confirmBox.querySelector("[data-cancel]").onclick = () => { confirmBox.hidden = true; };
  }));
}

async function startJob(section, kind) {
  const node = section.dataset.updatesNode;
  const error = section.querySelector(".error");
  error.textContent = "";
  const { status, data } = await api("POST", `/api/updates/${node}/${kind}`);
  if (status >= 300) { error.textContent = data.message || T.error; return; }
  followJob(section, data.node || node, data);  // container 101: the node it runs on
}

function setupUpdates() {
  document.querySelectorAll("[data-updates-node]").forEach((section) => {
    loadUpdates(section);
    section.querySelectorAll("[data-job]").forEach((button) => button.addEventListener("click", () => {
      const kind = button.dataset.job;
      if (!button.dataset.warn) { startJob(section, kind); return; }
      const box = section.querySelector(".confirm");
      box.querySelector("p").textContent = button.dataset.warn;
      box.hidden = false;
      box.querySelector("[data-confirm]").onclick = () => { box.hidden = true; startJob(section, kind); };
      box.querySelector("[data-cancel]").onclick = () => { box.hidden = true; };
    }));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupForms();
  setupStatus();
  setupUpdates();
  setupActions();
});
