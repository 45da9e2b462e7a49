#!/usr/bin/env bash
# The Quick start's main job: a local CA, short-lived X.509-SVIDs, and the verdicts that matter
# (a valid SVID, a rogue CA, a wrong identity, an expired certificate), all with the real CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund --silent
[ -f dist/cli.js ] && [ -z "$(find src -newer dist/cli.js -name "*.ts" | head -1)" ] || npm run build
lab() { node dist/cli.js "$@"; }
state=${MTLS_LAB_STATE:-$(mktemp -d "${TMPDIR:-/tmp}/mtls-lab-demo.XXXXXX")}
rogue=$(mktemp -d "${TMPDIR:-/tmp}/mtls-lab-rogue.XXXXXX")
trap 'rm -rf "$rogue"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n$ mtls-lab %s\n' "$1" "${*:2}"; }
expect_fail() { if lab "$@"; then echo "(unexpectedly accepted)"; exit 1; fi; }

step "A local CA for trust domain lab.local (root + intermediate)" ca init --state "$state" --intermediate --force
lab ca init --state "$state" --intermediate --force
step "An X.509-SVID for the orders service, valid 1 hour" issue spiffe://lab.local/ns/default/sa/orders --state "$state"
lab issue spiffe://lab.local/ns/default/sa/orders --state "$state"
svids="$state/issued/orders"
step "What it holds" inspect "$svids/svid.pem"
lab inspect "$svids/svid.pem"
step "Verified to the bundle, as the expected identity" verify svid.pem --bundle svid_bundle.pem --id spiffe://lab.local/ns/default/sa/orders
lab verify "$svids/svid.pem" --bundle "$svids/svid_bundle.pem" --id spiffe://lab.local/ns/default/sa/orders
step "The same certificate presented as someone else: rejected" verify svid.pem --bundle svid_bundle.pem --id spiffe://lab.local/ns/default/sa/payments
expect_fail verify "$svids/svid.pem" --bundle "$svids/svid_bundle.pem" --id spiffe://lab.local/ns/default/sa/payments
step "An impostor with its own CA: rejected" verify rogue/svid.pem --bundle svid_bundle.pem
lab ca init --state "$rogue" >/dev/null
lab issue spiffe://lab.local/ns/default/sa/payments --state "$rogue" --out "$rogue/svid" >/dev/null
expect_fail verify "$rogue/svid/svid.pem" --bundle "$svids/svid_bundle.pem"
step "A leaked certificate after its short life: rejected" issue spiffe://lab.local/ns/default/sa/billing --ttl 2s
lab issue spiffe://lab.local/ns/default/sa/billing --state "$state" --ttl 2s --out "$state/issued/billing" >/dev/null
sleep 3
expect_fail verify "$state/issued/billing/svid.pem" --bundle "$state/issued/billing/svid_bundle.pem"
printf '\nState folder: %s (ca/ keys are 0600; issued/<name>/ as spiffe-helper names them)\n' "$state"
