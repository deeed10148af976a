#!/usr/bin/env bash
# End-to-end CLI demo (what `make run` shows until the services exist). A training centre
# creates a key and issues a QualificationCredential bound to the worker's key; the worker
# presents name + qualification only, with key binding; an employer verifies it, in French.
# Then the accreditation body signs a trust list, the centre publishes a status list, the
# certificate goes through a QR code, and an offline employer verifies it before and after
# the centre revokes it.
set -euo pipefail
P=${PASSERELLE:-passerelle}
D=${DEMO_DIR:-var/demo}
rm -rf "$D" && mkdir -p "$D"
export PASSERELLE_DEV=1 # development mode: keys encrypted with the public dev passphrase
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
CENTRE=https://cfp-casablanca.example.ma
STATUS_URI=$CENTRE/status/1

step "1. The training centre creates its signing key (Ed25519, encrypted at rest)"
"$P" keys generate --store "$D/centre-keys" --label "Centre de formation demo"
"$P" keys export --store "$D/centre-keys" >"$D/centre.jwk.json"
cat "$D/centre.jwk.json"

step "2. The worker's wallet creates a holder key"
"$P" keys generate --store "$D/worker-keys" --alg ES256 --label "worker"
"$P" keys export --store "$D/worker-keys" >"$D/worker.jwk.json"

step "3. The centre issues a QualificationCredential (schemas/qualification/example.json)"
"$P" issue schemas/qualification/example.json --type QualificationCredential \
  --issuer "$CENTRE" --store "$D/centre-keys" --holder-key "$D/worker.jwk.json" \
  --valid-days 3650 --status-uri "$STATUS_URI" --status-idx 4711 -o "$D/credential.txt"
echo "credential: $(wc -c <"$D/credential.txt") characters; disclosable claims:"
"$P" present "$D/credential.txt" --list

step "4. The worker presents name + qualification only, bound to the employer's request"
"$P" present "$D/credential.txt" -d given_name -d family_name \
  --holder-store "$D/worker-keys" --nonce demo-nonce-4711 --audience https://employer.example \
  -o "$D/presentation.txt"
echo "presentation: $(wc -c <"$D/presentation.txt") characters"

step "5. The employer verifies it (labels in French; the centre's key is trusted directly)"
"$P" status-list create --uri "$STATUS_URI" --issuer "$CENTRE" --store "$D/centre-keys" \
  >"$D/status-1.jwt"
"$P" verify "$D/presentation.txt" --issuer-key "$D/centre.jwk.json" \
  --status-list "$D/status-1.jwt" --nonce demo-nonce-4711 --audience https://employer.example \
  --lang fr

step "6. A tampered presentation is refused (exit code 1)"
sed 's/~[^~]*~/~WyJmb3JnZWQiLCJnaXZlbl9uYW1lIiwiTWFsbG9yeSJd~/' "$D/presentation.txt" >"$D/forged.txt"
if "$P" verify "$D/forged.txt" --issuer-key "$D/centre.jwk.json" \
  --nonce demo-nonce-4711 --audience https://employer.example >/dev/null; then
  echo "forgery accepted: this is a bug" && exit 1
fi
echo "refused: the disclosure and the key binding no longer match the signature"

step "7. The accreditation body lists the centre in a signed trust list"
"$P" keys generate --store "$D/anchor-keys" --label "Accreditation body"
"$P" keys export --store "$D/anchor-keys" >"$D/anchor.jwk.json"
centre_jwk=$(tr -d '\n' <"$D/centre.jwk.json" | sed 's/}$/, "valid_from": "2024-01-01T00:00:00Z"}/')
cat >"$D/trust-source.yaml" <<YAML
iss: https://accreditation-fp.example.ma
jurisdiction: MA
issuers:
  - id: $CENTRE
    names: {fr: "Centre de formation Hay Hassani", en: "Hay Hassani Training Centre", ar: "مركز التكوين الحي الحسني"}
    country: MA
    accreditation:
      body: {fr: "Autorité d'accréditation (exemple)", en: "Accreditation authority (example)"}
      id: "MA-FP-2024-0173"
      scope: [https://credentials.passerelle.org/types/qualification/v1]
    status: active
    valid_from: 2024-01-01T00:00:00Z
    jwks: {keys: [$centre_jwk]}
YAML
"$P" trust-list sign "$D/trust-source.yaml" --store "$D/anchor-keys" -o "$D/ma.trustlist.jwt"
"$P" trust-list inspect "$D/ma.trustlist.jwt" --anchor "$D/anchor.jwk.json"

step "8. The certificate is printed with a QR code; the employer's site makes an offline bundle"
"$P" qr encode "$D/credential.txt" -o "$D/certificate-qr.png"
"$P" qr decode "$D/certificate-qr.png" >"$D/scanned.txt"
if [ "$(cat "$D/scanned.txt")" = "$(cat "$D/credential.txt")" ]; then echo "QR round trip: exact"; fi
"$P" bundle --trust-list "$D/ma.trustlist.jwt" --trust-anchor "$D/anchor.jwk.json" \
  --status-list "$D/status-1.jwt" -o "$D/bundle.json"

step "9. The employer, with no network, verifies the scanned certificate against the trust list"
"$P" verify "$D/scanned.txt" --bundle "$D/bundle.json" --trust-anchor "$D/anchor.jwk.json" \
  --offline --lang en

step "10. The centre revokes it: the same check now fails (exit code 1), here in Spanish"
"$P" status-list create --uri "$STATUS_URI" --issuer "$CENTRE" --store "$D/centre-keys" \
  --revoke 4711 >"$D/status-1.jwt"
if "$P" verify "$D/scanned.txt" --trust-list "$D/ma.trustlist.jwt" \
  --trust-anchor "$D/anchor.jwk.json" --status-list "$D/status-1.jwt" --offline --lang es; then
  echo "revoked credential accepted: this is a bug" && exit 1
fi
echo "done: files in $D"
