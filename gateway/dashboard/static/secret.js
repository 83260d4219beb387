/* The signing secret, shown once (after create and after rotate) with a copy button. */
import { dialog } from "./api.js";
import { copyButton, h } from "./ui.js";

export function showSecret(title, dst) {
  const field = h("input", { id: "new-secret", readonly: true, value: dst.secret, "aria-label": "New secret", class: "mono" });
  const keys = dst.publicKeys && dst.publicKeys.length
    ? [h("p", {}, "Consumers verify Ed25519 signatures with this public key (it is not secret):"),
      h("div", { class: "secret" }, h("input", { readonly: true, value: dst.publicKeys[0], "aria-label": "Public key", class: "mono" }), copyButton(() => dst.publicKeys[0], "Copy key"))]
    : null;
  return dialog(title, [
    h("p", {}, h("strong", {}, "Copy it now: it is shown once."), " The receiver needs it to verify webhook-signature; the gateway keeps it encrypted and never shows it again."),
    h("div", { class: "secret" }, field, copyButton(() => dst.secret, "Copy")),
    keys,
  ]);
}
