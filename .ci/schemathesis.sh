#!/usr/bin/env bash
# Property-based API fuzzing: schemathesis generates requests from the server's own OpenAPI
# document (/v1/openapi.json, generated from the handlers and the protocol's types) and fails on
# any 5xx response. Runs against a real server on a small synthetic region, authenticated as an
# enrolled device so that /v1/sync is reached (its bodies mostly naming that device, see
# .ci/schemathesis_hooks.py) and as a logged-in admin so that the admin API is.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check "schemathesis==4.32.5" 2>&1 | grep -v "as the 'root' user" || true
cargo build --quiet --locked -p fieldvisit-server
server=target/debug/fieldvisit-server
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

"$server" seed --db "$work/api.db" --small --seed 1 >/dev/null
cadre=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT id FROM cadre ORDER BY id LIMIT 1\").fetchone()[0])" "$work/api.db")
code=$("$server" enroll --db "$work/api.db" --cadre "$cadre")
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$server" serve --db "$work/api.db" --listen "127.0.0.1:$port" 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/v1/health" >/dev/null 2>&1 && break
  python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1])" "http://127.0.0.1:$port/v1/health" 2>/dev/null && break
  sleep 0.1
done

# A device enrolls (RFC 8032's first test public key is a valid Ed25519 point). Its id goes to
# the hooks (.ci/schemathesis_hooks.py), which put it in most generated sync bodies.
device=$(python3 -c "import uuid; print(uuid.uuid4())")
token=$(python3 - "$port" "$code" "$device" <<'PY'
import base64, json, sys, urllib.request
port, code, device = sys.argv[1], sys.argv[2], sys.argv[3]
key = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
body = json.dumps({"protocol": 1, "code": code, "device": device,
                   "public_key": base64.b64encode(key).decode(), "app_version": "schemathesis"}).encode()
req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/enroll", data=body, headers={"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req))["token"])
PY
)

# An admin logs in to the dashboard, so that the admin report endpoint is reached too.
FIELDVISIT_ADMIN_PASSWORD=schemathesis-password "$server" admin-user add fuzz --role supervisor \
  --db "$work/api.db" --actor ci >/dev/null
session=$(python3 - "$port" <<'PY'
import http.client, sys, urllib.parse
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
body = urllib.parse.urlencode({"username": "fuzz", "password": "schemathesis-password"})
conn.request("POST", "/admin/login", body, {"content-type": "application/x-www-form-urlencoded"})
cookies = [v for k, v in conn.getresponse().getheaders() if k.lower() == "set-cookie"]
print(next(c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("fv_session=")))
PY
)

examples=${FIELDVISIT_API_EXAMPLES:-150}
SCHEMATHESIS_HOOKS="$PWD/.ci/schemathesis_hooks.py" FIELDVISIT_FUZZ_DEVICE="$device" \
schemathesis run "http://127.0.0.1:$port/v1/openapi.json" \
  --checks not_a_server_error \
  --header "Authorization: Bearer $token" \
  --header "Cookie: fv_session=$session" \
  --max-examples "$examples" \
  --workers 1 \
  --no-color
echo "schemathesis: $examples examples per operation, no 5xx"
