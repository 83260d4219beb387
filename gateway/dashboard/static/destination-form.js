/* The destination form: create (#/destinations/new) and edit (#/destinations/{id}/edit).
 *
 * Every field sits in a wrapper named by its API path (data-path="options.surveyId"); the API's
 * 422 details[].path and the client's own checks land next to the field they name, or in the
 * summary above the form when no field matches. An edit PATCHes only what changed, with
 * expectedVersion: a 409 says the destination changed meanwhile and offers both ways out.
 */
import { ApiError, eventTypes, get, go, me, patch, post, state, toast } from "./api.js";
import { CONNECTORS, SIGNING } from "./connectors.js";
import { showSecret } from "./secret.js";
import { clear, h, main, pageHead } from "./ui.js";

const DEFAULT_TIMEOUT_SECONDS = 15;
const PATCHABLE = ["name", "url", "eventTypes", "filter", "headers", "options", "retrySchedule", "timeoutSeconds", "rateLimitPerSecond", "ordered", "outputSchema"];

export async function viewDestinationForm(view, id) {
  const [types, who, dst] = await Promise.all([eventTypes(), me(), id ? get(`/integrations/destinations/${id}`) : null]);
  const label = dst ? dst.name || dst.id : null;
  main.append(pageHead(dst ? `Edit ${label}` : "New destination",
    dst ? `Version ${dst.version}. Only the fields you change are sent.` : "Where events go: a connector, a URL and the events it subscribes to.", null,
    [h("a", { href: "#/destinations" }, "Destinations"), " / ", dst ? [h("a", { href: `#/destinations/${dst.id}` }, label), " / edit"] : "new"]));
  const form = buildForm(types, who, dst);
  main.append(form.el);
  form.el.querySelector("input:not([readonly]):not([disabled]), select:not([disabled])").focus();
}

// ---------------------------------------------------------------- building
function buildForm(types, who, dst) {
  const fields = new Map(); // API path -> wrapper
  let seq = 0;
  const field = (path, labelText, control, help, extraClass) => {
    // help: text or nodes; shown under the control, below its error
    const id = control.id || `f-${++seq}`;
    control.id = id;
    const helpEl = help ? h("p", { class: "help", id: `${id}-help` }, [help]) : null;
    const errEl = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
    control.setAttribute("aria-describedby", [helpEl ? helpEl.id : null, errEl.id].filter(Boolean).join(" "));
    const wrap = h("div", { class: `field${extraClass ? ` ${extraClass}` : ""}`, "data-path": path },
      h("label", { for: id }, labelText), control, errEl, helpEl);
    wrap.control = control;
    wrap.errEl = errEl;
    fields.set(path, wrap);
    return wrap;
  };
  const input = (id, attrs) => h("input", { id, name: id, autocomplete: "off", ...attrs });
  const textarea = (id, value, placeholder) => h("textarea", { id, name: id, rows: 4, spellcheck: "false", placeholder, class: "mono" }, value || "");
  const json = (v) => (v === null || v === undefined ? "" : JSON.stringify(v, null, 2));

  const summary = h("div", { class: "form-summary", role: "alert", id: "form-summary", hidden: true });
  // Basics
  const tenant = who.tenantId
    ? h("input", { id: "f-tenant", value: who.tenantId, readonly: true })
    : input("f-tenant", { value: dst ? dst.tenantId : firstTenant(), required: true, readonly: !!dst });
  const name = input("f-name", { value: dst ? dst.name : "", maxlength: 200, placeholder: "e.g. CRM (Zapier)" });
  const connector = h("select", { id: "f-connector", name: "connector", disabled: !!dst },
    Object.entries(CONNECTORS).map(([key, c]) => h("option", { value: key, selected: dst ? dst.connector === key : key === "webhook" }, c.label)));
  const connectorAbout = h("span", { id: "f-connector-about" });
  const url = input("f-url", { type: "url", value: dst ? dst.url : "", required: true, placeholder: "https://…", class: "wide" });
  const urlHelp = h("span", {});
  const typesBox = eventTypeChecks(types, dst ? dst.eventTypes : ["task.completed"]);
  // Connector-specific
  const connectorBox = h("div", { class: "connector-fields" });
  // Signing and headers
  const signing = h("select", { id: "f-signing", disabled: !!dst }, SIGNING.map(([v, t]) => h("option", { value: v, selected: (dst ? dst.signing : "hmac-sha256") === v }, t)));
  const secret = input("f-secret", { placeholder: "whsec_… (leave empty to generate one)", class: "mono wide" });
  const headers = headerRows(dst ? dst.headers : {});
  // Filter and shape
  const filter = textarea("f-filter", json(dst && dst.filter), "{\"studyId\": \"std_…\"}");
  const outputSchema = textarea("f-output-schema", json(dst && dst.outputSchema), "{\"type\": \"object\", \"required\": [\"id\"]}");
  outputSchema.rows = 6;
  // Delivery
  const retry = input("f-retry", { value: dst ? retryText(dst.retrySchedule) : "", placeholder: "default", class: "wide" });
  const timeout = input("f-timeout", { type: "number", min: 1, max: 60, step: "any", value: dst ? dst.timeoutSeconds : "", placeholder: String(DEFAULT_TIMEOUT_SECONDS) });
  const rate = input("f-rate", { type: "number", min: 0, step: "any", value: dst && dst.rateLimitPerSecond !== null ? dst.rateLimitPerSecond : "", placeholder: "connector default" });
  const ordered = h("input", { id: "f-ordered", type: "checkbox", checked: !!(dst && dst.ordered) });

  let connectorParts = null;
  const renderConnector = () => {
    const spec = CONNECTORS[connector.value];
    connectorAbout.textContent = spec.about;
    urlHelp.textContent = spec.url;
    for (const path of [...fields.keys()]) if (path.startsWith("credentials") || path.startsWith("options")) fields.delete(path);
    clear(connectorBox);
    connectorParts = connectorFields(spec, dst, field);
    connectorBox.append(...connectorParts.nodes);
  };
  connector.addEventListener("change", () => { clearErrors(fields, summary); renderConnector(); });
  signing.addEventListener("change", () => {
    secret.placeholder = signing.value === "ed25519" ? "whsk_… (leave empty to generate one)" : "whsec_… (leave empty to generate one)";
  });

  const submit = h("button", { class: "btn btn-primary", type: "submit" }, dst ? "Save changes" : "Create destination");
  const el = h("form", { class: "dest-form", novalidate: true, "aria-label": dst ? "Edit destination" : "New destination" },
    summary,
    h("fieldset", { class: "panel" }, h("legend", {}, "Basics"),
      h("div", { class: "form-grid" },
        field("tenantId", "Tenant", tenant, who.tenantId ? "Your key's tenant." : dst ? "A destination stays with its tenant." : "The tenant whose events it receives (an admin key must name one)."),
        field("name", "Name", name, "Shown in the dashboard and the logs."),
        field("connector", "Connector", connector, [connectorAbout, dst ? " Fixed once created: create a new destination for another connector." : null], "span2"),
        field("url", "URL", url, urlHelp, "span2")),
      field("eventTypes", "Event types", typesBox, "What it subscribes to. * means every type, present and future.", "span2")),
    h("fieldset", { class: "panel" }, h("legend", {}, "Credentials and options"), connectorBox),
    h("fieldset", { class: "panel" }, h("legend", {}, "Signing and headers"),
      h("div", { class: "form-grid" },
        field("signing", "Signing", signing, dst ? "Fixed once created. Rotate the secret from the destination's page." : "How webhook-signature is made. Consumers verify it with the secret (HMAC) or the public key (Ed25519)."),
        dst ? null : field("secret", "Your own secret (optional)", secret, "Only when migrating a consumer that already has one (whsec_ for HMAC, whsk_ for Ed25519). The new secret is shown once after creating.")),
      field("headers", "Extra headers", headers.el, "Sent with every request (e.g. an Authorization the receiver expects). Values are stored encrypted and shown as [redacted]: type a value again to change it.", "span2")),
    h("fieldset", { class: "panel" }, h("legend", {}, "Filter and output"),
      h("div", { class: "form-grid" },
        field("filter", "Filter (JSON)", filter, "Fields of the event's data that must match, e.g. {\"studyId\": \"std_…\"}. Empty: every event of the chosen types."),
        field("outputSchema", "Output schema (JSON Schema)", outputSchema, "The rendered body must satisfy it, or the attempt fails with schema_mismatch and nothing is sent. Empty: no check."))),
    h("fieldset", { class: "panel" }, h("legend", {}, "Delivery"),
      h("div", { class: "form-grid" },
        field("retrySchedule", "Retry schedule (seconds)", retry, "Waits between retries, comma-separated, e.g. 5, 300, 1800. Empty: the default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (±20 % jitter). none: a single attempt."),
        field("timeoutSeconds", "Timeout (seconds)", timeout, `1 to 60; default ${DEFAULT_TIMEOUT_SECONDS}. An attempt that takes longer fails as a timeout and is retried.`),
        field("rateLimitPerSecond", "Rate limit (requests/s)", rate, "Most requests per second to this URL. Empty: the connector's default (Zapier and Make 30/s, Qualtrics 2/s, else none)."),
        field("ordered", "Ordered delivery", h("span", { class: "check" }, ordered, h("span", {}, "One at a time, oldest first")), "A failing delivery holds back the ones after it; use it only when the receiver needs order.", "check-field"))),
    h("div", { class: "actions form-actions" }, submit,
      h("a", { class: "btn", href: dst ? `#/destinations/${dst.id}` : "#/destinations" }, "Cancel")));
  renderConnector();

  const collect = () => collectValues({ tenant, name, connector, url, typesBox, signing, secret, headers, filter, outputSchema, retry, timeout, rate, ordered, connectorParts, who, dst });
  el.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(fields, summary);
    const { body, problems } = collect();
    if (problems.length) { showErrors(fields, summary, problems.map(([path, message]) => ({ path, message }))); return; }
    submit.disabled = true;
    try {
      if (dst) await saveEdit(dst, body, fields, summary);
      else await saveNew(body);
    } catch (err) {
      if (err.status === 401) return;
      if (err.status === 422 || err.status === 400) showErrors(fields, summary, err.details.length ? err.details : [{ path: "", message: err.message }]);
      else showErrors(fields, summary, [{ path: "", message: err.message }]);
    } finally { submit.disabled = false; }
  });
  return { el, fields };
}

function firstTenant() {
  const any = state.destinations && [...state.destinations.values()][0];
  return any ? any.tenantId : "";
}
function retryText(schedule) {
  if (schedule === null || schedule === undefined) return "";
  return schedule.length ? schedule.join(", ") : "none";
}

function eventTypeChecks(types, chosen) {
  const names = ["*", ...types.map((t) => t.name)];
  for (const c of chosen) if (!names.includes(c)) names.push(c); // a wildcard such as gateway.*
  const about = new Map(types.map((t) => [t.name, t.description]));
  return h("div", { class: "checks", role: "group", "aria-label": "Event types", tabindex: "-1" }, names.map((n) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: n, name: "eventTypes", checked: chosen.includes(n) }),
      h("span", {}, h("span", { class: "mono" }, n), about.get(n) ? h("span", { class: "muted" }, ` · ${about.get(n)}`) : n === "*" ? h("span", { class: "muted" }, " · every event type") : null))));
}

function headerRows(initial) {
  const list = h("div", { class: "header-rows" });
  const add = (name, value) => {
    const row = h("div", { class: "header-row" },
      h("input", { class: "mono", placeholder: "Header-Name", value: name || "", "aria-label": "Header name" }),
      h("input", { class: "mono", placeholder: "value", value: value || "", "aria-label": "Header value" }),
      h("button", { class: "btn btn-small", type: "button", "aria-label": "Remove this header", onclick: () => row.remove() }, "Remove"));
    list.append(row);
  };
  for (const [k, v] of Object.entries(initial || {})) add(k, v);
  const el = h("div", { tabindex: "-1" }, list, h("button", { class: "btn btn-small", type: "button", onclick: () => add() }, "Add a header"));
  const value = () => {
    const out = {};
    for (const row of list.children) {
      const [k, v] = [...row.querySelectorAll("input")].map((i) => i.value.trim());
      if (k) out[k] = v;
    }
    return out;
  };
  return { el, value };
}

function connectorFields(spec, dst, field) {
  const nodes = [];
  const creds = [];
  const opts = [];
  if (spec.credentials.length) {
    const stored = dst && dst.hasCredentials;
    nodes.push(h("h3", {}, "Credentials"), h("p", { class: "help" }, stored
      ? "Credentials are stored (encrypted; never shown again). Leave these empty to keep them, or fill them to replace them."
      : "Stored encrypted; after saving they are never shown again."));
    const grid = h("div", { class: "form-grid" });
    for (const f of spec.credentials) {
      const control = h("input", { id: `f-cred-${f.key}`, type: f.type === "secret" ? "password" : "text", autocomplete: "new-password", placeholder: f.placeholder || (stored ? "(stored)" : ""), class: "mono" });
      grid.append(field(`credentials.${f.key}`, f.label, control, f.help));
      creds.push([f, control]);
    }
    nodes.push(grid);
    if (stored) {
      const remove = h("input", { id: "f-cred-remove", type: "checkbox" });
      nodes.push(h("label", { class: "check" }, remove, h("span", {}, "Remove the stored credentials")));
      creds.remove = remove;
    }
  } else {
    nodes.push(h("p", { class: "help" }, "This connector takes no credentials: the receiver checks webhook-signature (or add a header below)."));
  }
  if (spec.options.length) {
    nodes.push(h("h3", {}, "Options"));
    const grid = h("div", { class: "form-grid" });
    const current = (dst && dst.options) || {};
    for (const f of spec.options) {
      const value = current[f.key];
      const control = f.type === "json"
        ? h("textarea", { id: `f-opt-${f.key}`, rows: 4, spellcheck: "false", class: "mono", placeholder: f.placeholder || "" }, value === undefined ? "" : JSON.stringify(value, null, 2))
        : h("input", { id: `f-opt-${f.key}`, type: f.type === "number" ? "number" : "text", value: value === undefined ? "" : value, placeholder: f.placeholder || "", class: f.type === "text" ? "mono" : null });
      grid.append(field(`options.${f.key}`, f.label, control, f.help));
      opts.push([f, control]);
    }
    nodes.push(grid);
  }
  return { nodes, creds, opts, spec };
}

// ---------------------------------------------------------------- reading the form
function parseJson(text, path, problems, { object = true } = {}) {
  if (!text.trim()) return null;
  try {
    const value = JSON.parse(text);
    if (object && (typeof value !== "object" || value === null || Array.isArray(value))) {
      problems.push([path, "must be a JSON object ({…})"]);
      return undefined;
    }
    return value;
  } catch (err) {
    problems.push([path, `not valid JSON: ${err.message}`]);
    return undefined;
  }
}
function collectValues(c) {
  const problems = [];
  const body = {};
  const dst = c.dst;
  if (!dst && !c.who.tenantId) {
    if (!c.tenant.value.trim()) problems.push(["tenantId", "required: the tenant whose events it receives"]);
    body.tenantId = c.tenant.value.trim();
  }
  body.name = c.name.value.trim();
  if (!dst) body.connector = c.connector.value;
  body.url = c.url.value.trim();
  if (!body.url) problems.push(["url", "required"]);
  body.eventTypes = [...c.typesBox.querySelectorAll("input:checked")].map((i) => i.value);
  if (!body.eventTypes.length) problems.push(["eventTypes", "choose at least one event type"]);
  if (!dst) {
    body.signing = c.signing.value;
    if (c.secret.value.trim()) body.secret = c.secret.value.trim();
  }
  body.headers = c.headers.value();
  // Header values are sealed and shown as [redacted]; a value sent back as [redacted] keeps the
  // stored one (the API's rule), so only the values typed here change.
  const filter = parseJson(c.filter.value, "filter", problems);
  body.filter = filter === undefined ? null : filter;
  const schema = parseJson(c.outputSchema.value, "outputSchema", problems);
  body.outputSchema = schema === undefined ? null : schema;
  body.retrySchedule = parseRetry(c.retry.value, problems);
  const timeout = c.timeout.value.trim();
  if (timeout) body.timeoutSeconds = Number(timeout);
  else if (dst) problems.push(["timeoutSeconds", `required (default ${DEFAULT_TIMEOUT_SECONDS})`]);
  const rate = c.rate.value.trim();
  body.rateLimitPerSecond = rate ? Number(rate) : null;
  body.ordered = c.ordered.checked;
  // Credentials: only when typed in (or removed); the stored ones are never sent back to us.
  const parts = c.connectorParts;
  const creds = {};
  for (const [f, control] of parts.creds) if (control.value !== "") creds[f.key] = control.value;
  if (parts.spec.check) problems.push(...parts.spec.check(creds));
  if (Object.keys(creds).length) body.credentials = creds;
  else if (parts.creds.remove && parts.creds.remove.checked) body.credentials = null;
  // Options: keys this form does not know (set through the API) are kept as they are.
  const options = { ...((dst && dst.options) || {}) };
  for (const [f, control] of parts.opts) {
    delete options[f.key];
    const raw = control.value.trim();
    if (!raw) continue;
    if (f.type === "json") {
      const v = parseJson(raw, `options.${f.key}`, problems);
      if (v !== undefined && v !== null) options[f.key] = v;
    } else if (f.type === "number") options[f.key] = Number(raw);
    else options[f.key] = raw;
  }
  body.options = Object.keys(options).length ? options : null;
  if (!dst) for (const k of Object.keys(body)) if (body[k] === null || (k === "headers" && !Object.keys(body.headers).length) || (k === "name" && !body.name)) delete body[k];
  return { body, problems };
}
function parseRetry(text, problems) {
  const raw = text.trim();
  if (!raw) return null;
  if (/^none$/i.test(raw)) return [];
  const steps = raw.split(/[\s,]+/).filter(Boolean).map(Number);
  if (steps.some((x) => !Number.isFinite(x) || x < 0)) {
    problems.push(["retrySchedule", "numbers of seconds separated by commas, or none"]);
    return null;
  }
  return steps;
}

// ---------------------------------------------------------------- saving
async function saveNew(body) {
  const created = await post("/integrations/destinations", body);
  state.destinations = null;
  go(`destinations/${created.id}`);
  showSecret(created.signing === "ed25519" ? "Destination created: its public key" : "Destination created: its signing secret", created);
}
async function saveEdit(dst, body, fields, summary, overwriteVersion) {
  const changes = {};
  for (const key of PATCHABLE) {
    const before = dst[key] === undefined ? null : dst[key];
    let after = body[key] === undefined ? null : body[key];
    if (key === "headers" && after && !Object.keys(after).length && !before) after = null;
    if (JSON.stringify(before) !== JSON.stringify(after)) changes[key] = key === "headers" ? after || {} : after;
  }
  if ("credentials" in body) changes.credentials = body.credentials;
  if (!Object.keys(changes).length) { toast("Nothing changed."); go(`destinations/${dst.id}`); return; }
  try {
    await patch(`/integrations/destinations/${dst.id}`, { ...changes, expectedVersion: overwriteVersion || dst.version });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 409) throw err;
    const now = await get(`/integrations/destinations/${dst.id}`).catch(() => null);
    const current = now ? now.version : (err.details.find((d) => d.currentVersion) || {}).currentVersion;
    const changed = now ? [...PATCHABLE, "status", "hasCredentials"].filter((k) => JSON.stringify(now[k]) !== JSON.stringify(dst[k])) : [];
    showConflict(summary, dst, current, changed, () => saveEdit(dst, body, fields, summary, current));
    return;
  }
  state.destinations = null;
  toast(`Saved ${dst.name || dst.id}.`);
  go(`destinations/${dst.id}`);
}
function showConflict(summary, dst, current, changed, overwrite) {
  clear(summary);
  summary.hidden = false;
  summary.className = "form-summary conflict";
  summary.append(h("h2", {}, "This destination was changed meanwhile"),
    h("p", {}, `You edited version ${dst.version}; it is now at version ${current || "a newer one"} (someone or something else saved it). Your edits are not saved.`),
    changed.length ? h("p", { id: "conflict-fields" }, "Changed meanwhile: ", changed.map((k, i) => [i ? ", " : "", h("code", {}, k)])) : null,
    h("div", { class: "actions" },
      h("button", { class: "btn", type: "button", onclick: () => state.refresh() }, "Load the current version (discard my edits)"),
      h("button", { class: "btn btn-danger", type: "button", onclick: async (e) => { e.currentTarget.disabled = true; try { await overwrite(); } catch (err) { toast(err.message, { bad: true }); } } }, "Save my edits over it")));
  summary.scrollIntoView({ block: "nearest" });
  summary.focus();
}

// ---------------------------------------------------------------- errors at their fields
function clearErrors(fields, summary) {
  clear(summary);
  summary.hidden = true;
  summary.className = "form-summary";
  for (const wrap of fields.values()) {
    wrap.errEl.hidden = true;
    wrap.errEl.textContent = "";
    wrap.classList.remove("invalid");
    wrap.control.removeAttribute("aria-invalid");
  }
}
function fieldFor(fields, path) {
  const parts = String(path || "").split(".");
  for (let n = parts.length; n > 0; n -= 1) {
    const wrap = fields.get(parts.slice(0, n).join("."));
    if (wrap) return wrap;
  }
  return null;
}
function showErrors(fields, summary, details) {
  const loose = [];
  let first = null;
  const before = (a, b) => !b || (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0;
  for (const raw of details) {
    const d = { ...raw, message: String(raw.message || "").replace(/^Value error, /, "") };
    const wrap = fieldFor(fields, d.path);
    if (!wrap) { loose.push(d); continue; }
    const extra = d.path && wrap.dataset.path !== d.path ? `${d.path}: ` : "";
    wrap.errEl.textContent = wrap.errEl.textContent ? `${wrap.errEl.textContent}; ${extra}${d.message}` : `${extra}${d.message}`;
    wrap.errEl.hidden = false;
    wrap.classList.add("invalid");
    wrap.control.setAttribute("aria-invalid", "true");
    if (before(wrap, first)) first = wrap;
  }
  summary.hidden = false;
  summary.append(h("p", {}, h("strong", {}, details.length === 1 ? "One problem to fix" : `${details.length} problems to fix`), loose.length ? ":" : ": see the fields marked below."));
  if (loose.length) summary.append(h("ul", {}, loose.map((d) => h("li", {}, d.path ? `${d.path}: ${d.message}` : d.message))));
  (first ? first.control : summary).focus();
}
