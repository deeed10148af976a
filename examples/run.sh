#!/usr/bin/env bash
# `make run`: the issuer and the verifier on the embedded default (SQLite, local key store),
# with a demo training centre, a demo accreditation body that lists it, and the verifier
# trusting that body. State lives in var/run/ and survives restarts; `make clean` resets it.
set -euo pipefail
P=${PASSERELLE:-passerelle}
D=${RUN_DIR:-var/run}
ISSUER_PORT=${ISSUER_PORT:-8000}
VERIFIER_PORT=${VERIFIER_PORT:-8001}
SLUG=demo
mkdir -p "$D"
export PASSERELLE_DEV=1 # development mode: keys encrypted with the public dev passphrase
export DATABASE_URL=${DATABASE_URL:-sqlite:///$D/issuer.db}
export ISSUER_KEY_STORE=$D/keys/issuer
export ISSUER_PUBLIC_URL=http://localhost:$ISSUER_PORT

if [ ! -s "$D/demo-admin-key" ]; then
  echo "== first run: creating the demo training centre"
  "$P" issuer init --slug "$SLUG" --name "fr=Centre de formation démo" \
    --name "en=Demo Training Centre" --name "ar=مركز التدريب التجريبي" --country MA \
    --accreditation-body "Demo accreditation body" --accreditation-number MA-DEMO-0001 \
    --language fr --prefix DEMO | tee "$D/init.log"
  # the admin key is printed once; keep it for this demo only (development mode)
  grep -oE 'psk_[A-Za-z0-9_.-]+' "$D/init.log" | head -n 1 >"$D/demo-admin-key"
  chmod 600 "$D/demo-admin-key"
  rm "$D/init.log"
fi

if [ ! -s "$D/demo.trustlist.jwt" ]; then
  echo "== first run: the demo accreditation body signs a trust list"
  "$P" keys generate --store "$D/keys/anchor" --label "Demo accreditation body" >/dev/null
  "$P" keys export --store "$D/keys/anchor" >"$D/anchor.jwk.json"
  keys=$("$P" keys export --store "$ISSUER_KEY_STORE/$SLUG" --all |
    python3 -c 'import json,sys; ks=json.load(sys.stdin)["keys"]; print(json.dumps([{**k, "valid_from": "2024-01-01T00:00:00Z"} for k in ks]))')
  cat >"$D/trust-source.yaml" <<YAML
iss: http://localhost:$ISSUER_PORT/accreditation
jurisdiction: MA
issuers:
  - id: http://localhost:$ISSUER_PORT/tenants/$SLUG
    names: {fr: "Centre de formation démo", en: "Demo Training Centre", ar: "مركز التدريب التجريبي"}
    country: MA
    accreditation:
      body: {en: "Demo accreditation body", fr: "Organisme d'accréditation démo"}
      id: MA-DEMO-0001
      scope:
        - https://credentials.passerelle.org/types/qualification/v1
        - https://credentials.passerelle.org/types/skill/v1
    status: active
    valid_from: 2024-01-01T00:00:00Z
    jwks: {keys: $keys}
YAML
  "$P" trust-list sign "$D/trust-source.yaml" --store "$D/keys/anchor" --lifetime-days 366 \
    -o "$D/demo.trustlist.jwt" >/dev/null
fi

"$P" issuer serve --port "$ISSUER_PORT" --workers 1 &
issuer_pid=$!
"$P" verifier serve --port "$VERIFIER_PORT" --workers 1 \
  --trust-anchor "$D/anchor.jwk.json" --trust-list "$D/demo.trustlist.jwt" \
  --allow-http-host localhost --allow-http-host 127.0.0.1 \
  --public-url "http://localhost:$VERIFIER_PORT" &
verifier_pid=$!
trap 'kill $issuer_pid $verifier_pid 2>/dev/null; wait' EXIT INT TERM
sleep 2
cat <<EOF

  Passerelle is running (Ctrl-C stops it).
  Issuer (training centre):  http://localhost:$ISSUER_PORT/registrar   API: /docs
  Verifier (employer page):  http://localhost:$VERIFIER_PORT/           API: /docs
  Demo centre's admin API key: $(cat "$D/demo-admin-key")
  Issue one:  curl -s -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
     -d '{"type":"QualificationCredential","claims":'"\$(cat schemas/qualification/example.json)"'}' \\
     http://localhost:$ISSUER_PORT/api/v1/credentials
  The CLI demo (keys, issue, present, verify, trust list, QR, revocation): make demo

EOF
wait
