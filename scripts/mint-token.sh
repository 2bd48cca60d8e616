#!/usr/bin/env bash
# Mint an HS256 JWT for mtmcp with nothing but bash and openssl.
#
#   scripts/mint-token.sh -t acme                      # demo defaults
#   scripts/mint-token.sh -t globex -s bob -S "documents" -l 600
#
# Options (each also settable through the environment variable shown):
#   -k HEX       HMAC secret as hex               MTMCP_SECRET_HEX
#                (default: the contents of .scratch/demo-secret.hex, written by `make run`)
#   -t TENANT    tenant_id claim (required)       MTMCP_TENANT
#   -s SUBJECT   sub claim                        MTMCP_SUBJECT   (default demo-user)
#   -S SCOPE     scope claim, space separated     MTMCP_SCOPE     (default documents)
#   -l SECONDS   lifetime: exp = iat + SECONDS    MTMCP_TTL       (default 3600)
#   -i ISSUER    iss claim                        MTMCP_ISSUER    (default https://idp.demo.mtmcp.local)
#   -a AUDIENCE  aud claim                        MTMCP_AUDIENCE  (default mtmcp-demo)
#   -K KID       optional "kid" header            MTMCP_KID       (default: none)
#
# Prints only the token (header.claims.signature, base64url without padding)
# on stdout.  Claims: iss, aud, sub, tenant_id, scope, iat, exp.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
}

secret_hex=${MTMCP_SECRET_HEX:-}
tenant=${MTMCP_TENANT:-}
subject=${MTMCP_SUBJECT:-demo-user}
scope=${MTMCP_SCOPE:-documents}
ttl=${MTMCP_TTL:-3600}
issuer=${MTMCP_ISSUER:-https://idp.demo.mtmcp.local}
audience=${MTMCP_AUDIENCE:-mtmcp-demo}
kid=${MTMCP_KID:-}

while getopts 'k:t:s:S:l:i:a:K:h' opt; do
	case $opt in
		k) secret_hex=$OPTARG ;;
		t) tenant=$OPTARG ;;
		s) subject=$OPTARG ;;
		S) scope=$OPTARG ;;
		l) ttl=$OPTARG ;;
		i) issuer=$OPTARG ;;
		a) audience=$OPTARG ;;
		K) kid=$OPTARG ;;
		*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage

die() { echo "mint-token: $*" >&2; exit 2; }

if [ -z "$secret_hex" ] && [ -f "$REPO/.scratch/demo-secret.hex" ]; then
	secret_hex=$(tr -d ' \n' <"$REPO/.scratch/demo-secret.hex")
fi
[ -n "$secret_hex" ] || die "no secret: pass -k HEX, set MTMCP_SECRET_HEX, or run 'make run' first"
[[ $secret_hex =~ ^([0-9a-fA-F]{2})+$ ]] || die "the secret must be an even number of hex digits"
[ -n "$tenant" ] || die "no tenant: pass -t TENANT"
[[ $ttl =~ ^[0-9]+$ ]] || die "the lifetime must be a whole number of seconds"

# A JSON string literal.  Control characters are refused rather than escaped:
# no claim of ours needs them.
json_str() {
	local s=$1
	if [[ $s =~ [[:cntrl:]] ]]; then die "control characters are not allowed in claims"; fi
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

# base64url without padding, of stdin
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

iat=$(date +%s)
exp=$((iat + ttl))

header='{"alg":"HS256","typ":"JWT"'
[ -z "$kid" ] || header+=",\"kid\":$(json_str "$kid")"
header+='}'

claims="{\"iss\":$(json_str "$issuer"),\"aud\":$(json_str "$audience"),\"sub\":$(json_str "$subject")"
claims+=",\"tenant_id\":$(json_str "$tenant"),\"scope\":$(json_str "$scope"),\"iat\":$iat,\"exp\":$exp}"

signing_input="$(printf '%s' "$header" | b64url).$(printf '%s' "$claims" | b64url)"
signature=$(printf '%s' "$signing_input" |
	openssl dgst -sha256 -mac HMAC -macopt "hexkey:$secret_hex" -binary | b64url)

printf '%s.%s\n' "$signing_input" "$signature"
