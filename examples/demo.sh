#!/usr/bin/env bash
# End-to-end CLI demo (what `make run` shows until the services exist): a training centre
# creates a key and issues a QualificationCredential bound to the worker's key; the worker
# presents name + qualification only, with key binding; an employer verifies it, in French.
set -euo pipefail
P=${PASSERELLE:-passerelle}
D=${DEMO_DIR:-var/demo}
rm -rf "$D" && mkdir -p "$D"
export PASSERELLE_DEV=1 # development mode: keys encrypted with the public dev passphrase
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. The training centre creates its signing key (Ed25519, encrypted at rest)"
"$P" keys generate --store "$D/centre-keys" --label "Centre de formation demo"
"$P" keys export --store "$D/centre-keys" >"$D/centre.jwk.json"
cat "$D/centre.jwk.json"

step "2. The worker's wallet creates a holder key"
"$P" keys generate --store "$D/worker-keys" --alg ES256 --label "worker"
"$P" keys export --store "$D/worker-keys" >"$D/worker.jwk.json"

step "3. The centre issues a QualificationCredential (schemas/qualification/example.json)"
"$P" issue schemas/qualification/example.json --type QualificationCredential \
  --issuer https://cfp-casablanca.example.ma --store "$D/centre-keys" \
  --holder-key "$D/worker.jwk.json" --valid-days 3650 -o "$D/credential.txt"
echo "credential: $(wc -c <"$D/credential.txt") characters; disclosable claims:"
"$P" present "$D/credential.txt" --list

step "4. The worker presents name + qualification only, bound to the employer's request"
"$P" present "$D/credential.txt" -d given_name -d family_name \
  --holder-store "$D/worker-keys" --nonce demo-nonce-4711 --audience https://employer.example \
  -o "$D/presentation.txt"
echo "presentation: $(wc -c <"$D/presentation.txt") characters"

step "5. The employer verifies it (labels in French)"
"$P" verify "$D/presentation.txt" --issuer-key "$D/centre.jwk.json" \
  --nonce demo-nonce-4711 --audience https://employer.example --lang fr

step "6. A tampered presentation is refused (exit code 1)"
sed 's/~[^~]*~/~WyJmb3JnZWQiLCJnaXZlbl9uYW1lIiwiTWFsbG9yeSJd~/' "$D/presentation.txt" >"$D/forged.txt"
if "$P" verify "$D/forged.txt" --issuer-key "$D/centre.jwk.json" \
  --nonce demo-nonce-4711 --audience https://employer.example; then
  echo "forgery accepted: this is a bug" && exit 1
fi
echo "done: files in $D"
