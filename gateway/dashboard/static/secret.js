/* The signing secret, shown once (after create and after rotate) with a copy button.
 * For Ed25519 the API answers the public key (whpk_) that consumers verify with: not a secret,
 * and shown again on the destination's page. */
import { dialog } from "./api.js";
import { copyButton, h } from "./ui.js";

export function showSecret(title, dst) {
  const isPublic = String(dst.secret || "").startsWith("whpk_");
  const field = h("input", { id: "new-secret", readonly: true, value: dst.secret, "aria-label": isPublic ? "Public key" : "New secret", class: "mono" });
  const note = isPublic
    ? h("p", {}, h("strong", {}, "Consumers verify Ed25519 signatures (v1a) with this public key."), " It is not secret; the private key stays in the gateway, encrypted. The destination's page shows it again.")
    : h("p", {}, h("strong", {}, "Copy it now: it is shown once."), " The receiver needs it to verify webhook-signature; the gateway keeps it encrypted and never shows it again.");
  return dialog(title, [note, h("div", { class: "secret" }, field, copyButton(() => dst.secret, "Copy"))]);
}
