/* What each connector asks for in the destination form: URL help, credentials and options, with
 * the inline help an operator needs (README "Connectors"; connectors/<name>/adapter.py).
 *
 * A field is {key, label, help, type: "text"|"secret"|"number"|"json", placeholder?}. Credentials
 * are stored encrypted and never shown again; options come back in clear and are prefilled.
 */

export const CONNECTORS = {
  webhook: {
    label: "Webhook (Standard Webhooks)",
    about: "Any HTTPS endpoint. It receives {id, type, timestamp, tenantId, data}, signed with webhook-signature.",
    url: "The endpoint that receives the POSTs, e.g. https://example.com/hooks/person-run.",
    credentials: [],
    options: [],
  },
  zapier: {
    label: "Zapier",
    about: "A Zapier REST hook. Zapier usually creates these itself through /hooks/zapier; one flat snake_case object per event, ≤ 30 requests/s; 410 unsubscribes.",
    url: "The hook URL Zapier gave for the Zap (https://hooks.zapier.com/…).",
    credentials: [],
    options: [],
  },
  make: {
    label: "Make",
    about: "A Make custom webhook. One nested bundle per event, every optional key present; ≤ 30 requests/s; 410 unsubscribes.",
    url: "The webhook address Make shows for the scenario (https://hook.eu1.make.com/…).",
    credentials: [
      { key: "apiKey", label: "API key", type: "secret", help: "Sent as x-make-apikey when the webhook requires an API key. Leave empty if it does not." },
    ],
    options: [],
  },
  n8n: {
    label: "n8n",
    about: "An n8n Webhook node. 403 (wrong credentials) disables the destination at once; 404 \"not registered\" backs off, then disables.",
    url: "The Webhook node's production URL (…/webhook/…). /webhook-test/ URLs are not retried.",
    credentials: [
      { key: "headerName", label: "Header Auth: header name", type: "text", placeholder: "X-N8N-Auth", help: "For a Webhook node with Header Auth: the header name and value it expects." },
      { key: "headerValue", label: "Header Auth: header value", type: "secret", help: "" },
      { key: "username", label: "Basic Auth: username", type: "text", help: "For Basic Auth instead: the user and password. Give one pair, not both." },
      { key: "password", label: "Basic Auth: password", type: "secret", help: "" },
    ],
    options: [
      { key: "notRegisteredMaxAttempts", label: "Attempts while \"not registered\"", type: "number", placeholder: "5", help: "How many 404 \"webhook not registered\" answers to back off through before disabling (default 5)." },
    ],
    check(credentials) {
      const header = credentials.headerName || credentials.headerValue;
      const basic = credentials.username || credentials.password;
      const problems = [];
      if (header && basic) problems.push(["credentials.username", "give Header Auth or Basic Auth, not both"]);
      if (header && !(credentials.headerName && credentials.headerValue)) problems.push([credentials.headerName ? "credentials.headerValue" : "credentials.headerName", "Header Auth needs both the header name and its value"]);
      if (basic && !(credentials.username && credentials.password)) problems.push([credentials.username ? "credentials.password" : "credentials.username", "Basic Auth needs both the username and the password"]);
      return problems;
    },
  },
  typeform: {
    label: "Typeform (webhook shape)",
    about: "Posts a Typeform form_response webhook body, signed with Typeform-Signature, to a consumer that already reads Typeform webhooks.",
    url: "The consumer's Typeform webhook endpoint.",
    credentials: [
      { key: "typeformSecret", label: "Typeform secret", type: "secret", help: "Signs Typeform-Signature (sha256=…). Leave empty to sign with the destination's own secret." },
    ],
    options: [
      { key: "formId", label: "Form id", type: "text", placeholder: "e.g. lT4Z3j", help: "The form_id to put in the body. Default: a stable id derived from the study." },
      { key: "fields", label: "Fields (JSON)", type: "json", placeholder: "{\"q1\": {\"id\": \"Xy12AbCd\", \"ref\": \"satisfaction\"}}", help: "Map each question (its ref or id) to the Typeform field id/ref/type to use. Default: derived from the question." },
    ],
  },
  qualtrics: {
    label: "Qualtrics (create responses)",
    about: "Creates a response in a Qualtrics survey: POST {url}/API/v3/surveys/{surveyId}/responses with X-API-TOKEN; 2 requests/s by default.",
    url: "Your Qualtrics datacenter's base URL, e.g. https://iad1.qualtrics.com.",
    credentials: [
      { key: "apiToken", label: "API token", type: "secret", help: "The Qualtrics API token (Account settings → Qualtrics IDs), sent as X-API-TOKEN." },
    ],
    options: [
      { key: "surveyId", label: "Survey id", type: "text", placeholder: "SV_…", help: "Required: the survey that receives the responses." },
      { key: "questions", label: "Questions (JSON)", type: "json", placeholder: "{\"q1\": {\"qid\": \"QID2\", \"kind\": \"single\", \"recodes\": {\"yes\": 1}}}", help: "Map each question ref to its Qualtrics QID and kind (with recodes for choices). Questions are never guessed by position." },
    ],
  },
};

export const SIGNING = [
  ["hmac-sha256", "HMAC-SHA256 (v1, whsec_ secret)"],
  ["ed25519", "Ed25519 (v1a, public key to verify)"],
];
