#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Generate the test PKI (EC P-256, SHA-256) into <dir>, fresh at each test run:
#   ca.crt ca.key                  root CA "tern test CA"
#   server.crt server.key          CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1
#   client.crt client.key          CN=tern-test-client, clientAuth, signed by ca
#   other-ca.crt other-ca.key      an unrelated root CA ("wrong CA" tests)
#   other-client.crt other-client.key   a client certificate signed by other-ca
#   wrongname.crt wrongname.key    signed by ca, for wrong.example only
#   expired.crt expired.key        signed by ca for localhost, valid only in 2020
# and for the strict-validation tests (integration.tls_strict), all for localhost:
#   notyet.crt notyet.key          signed by ca, valid from a year from now, for a year
#   untrusted.crt untrusted.key    signed by other-ca
#   selfsigned.crt selfsigned.key  signed by itself
#   rsa1024.crt rsa1024.key        a 1024-bit RSA key, signed by ca
#   sha1.crt sha1.key              signed by ca with ECDSA over SHA-1
#   revoked.crt revoked.key        signed by ca, then revoked
#   ca.crl                         ca's CRL (PEM), listing revoked.crt only
# Usage: gen_pki.sh <dir> [openssl]
set -eu
dir=$1
openssl=${2:-openssl}
mkdir -p "$dir"
cd "$dir"

cat >pki.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${ENV::TERN_SAN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[selfsigned_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${ENV::TERN_SAN}
subjectKeyIdentifier = hash
# `openssl ca`, used only for the expired certificate: it alone takes explicit dates.
[ca]
default_ca = expired_ca
[expired_ca]
database = expired-db/index.txt
new_certs_dir = expired-db
serial = expired-db/serial
default_md = sha256
policy = any_policy
unique_subject = no
# `openssl ca -name tern_ca`: ca's own database, for dates, revocation and the CRL.
[tern_ca]
database = ca-db/index.txt
new_certs_dir = ca-db
serial = ca-db/serial
default_md = sha256
default_crl_days = 30
policy = any_policy
unique_subject = no
[any_policy]
commonName = supplied
EOF

key() {
    "$openssl" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
}

# root <name> <subject CN>
root() {
    key "$1"
    "$openssl" req -config pki.cnf -new -x509 -key "$1.key" -subj "/CN=$2" -days 3650 \
        -sha256 -extensions ca_ext -out "$1.crt"
}

# leaf <name> <subject CN> <extensions section> <issuer>
leaf() {
    key "$1"
    "$openssl" req -config pki.cnf -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
    "$openssl" x509 -req -in "$1.csr" -CA "$4.crt" -CAkey "$4.key" \
        -set_serial "0x$("$openssl" rand -hex 8)" -days 825 -sha256 \
        -extfile pki.cnf -extensions "$3" -out "$1.crt" 2>/dev/null
}

# The names a server certificate is for: server_ext reads TERN_SAN.
local_names="DNS:localhost, IP:127.0.0.1, IP:::1"
export TERN_SAN="$local_names"
root ca "tern test CA"
root other-ca "tern unrelated CA"
leaf server localhost server_ext ca
leaf client tern-test-client client_ext ca
leaf other-client tern-other-client client_ext other-ca
TERN_SAN="DNS:wrong.example"
leaf wrongname wrong.example server_ext ca
TERN_SAN=$local_names

key expired
"$openssl" req -config pki.cnf -new -key expired.key -subj "/CN=localhost" -out expired.csr
mkdir -p expired-db
: >expired-db/index.txt
echo 1000 >expired-db/serial
"$openssl" ca -batch -config pki.cnf -cert ca.crt -keyfile ca.key -in expired.csr \
    -startdate 20200101000000Z -enddate 20200201000000Z -extfile pki.cnf \
    -extensions server_ext -notext -out expired.crt 2>/dev/null

# ---- for the strict-validation tests
leaf untrusted localhost server_ext other-ca

key selfsigned
"$openssl" req -config pki.cnf -new -x509 -key selfsigned.key -subj "/CN=localhost" \
    -days 825 -sha256 -extensions selfsigned_ext -out selfsigned.crt

"$openssl" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key 2>/dev/null
"$openssl" req -config pki.cnf -new -key rsa1024.key -subj "/CN=localhost" -out rsa1024.csr
"$openssl" x509 -req -in rsa1024.csr -CA ca.crt -CAkey ca.key \
    -set_serial "0x$("$openssl" rand -hex 8)" -days 825 -sha256 \
    -extfile pki.cnf -extensions server_ext -out rsa1024.crt 2>/dev/null

key sha1
"$openssl" req -config pki.cnf -new -key sha1.key -subj "/CN=localhost" -out sha1.csr
"$openssl" x509 -req -in sha1.csr -CA ca.crt -CAkey ca.key \
    -set_serial "0x$("$openssl" rand -hex 8)" -days 825 -sha1 \
    -extfile pki.cnf -extensions server_ext -out sha1.crt 2>/dev/null

# from_ca <name> [openssl ca options]: a localhost server certificate from ca's database.
from_ca() {
    name=$1
    shift
    key "$name"
    "$openssl" req -config pki.cnf -new -key "$name.key" -subj "/CN=localhost" -out "$name.csr"
    "$openssl" ca -batch -config pki.cnf -name tern_ca -cert ca.crt -keyfile ca.key \
        -in "$name.csr" -extfile pki.cnf -extensions server_ext -notext -out "$name.crt" \
        "$@" 2>/dev/null
}
mkdir -p ca-db
: >ca-db/index.txt
echo 2000 >ca-db/serial
now=$(date -u +%s)
year=$((365 * 86400))
from_ca notyet -startdate "$(date -u -d "@$((now + year))" +%Y%m%d%H%M%SZ)" \
    -enddate "$(date -u -d "@$((now + 2 * year))" +%Y%m%d%H%M%SZ)"
from_ca revoked -days 825
"$openssl" ca -config pki.cnf -name tern_ca -cert ca.crt -keyfile ca.key \
    -revoke revoked.crt 2>/dev/null
# Revoked an hour ago rather than this very second, which a verifier may not count yet.
revoked_at=$(date -u -d "@$((now - 3600))" +%y%m%d%H%M%SZ)
awk -v at="$revoked_at" 'BEGIN { FS = OFS = "\t" } $1 == "R" { $3 = at } { print }' \
    ca-db/index.txt >ca-db/index.new
mv ca-db/index.new ca-db/index.txt
"$openssl" ca -config pki.cnf -name tern_ca -cert ca.crt -keyfile ca.key -gencrl \
    -out ca.crl 2>/dev/null

rm -rf ./*.csr expired-db ca-db
chmod 600 ./*.key
for f in ca server client other-ca other-client wrongname expired \
    notyet untrusted selfsigned rsa1024 sha1 revoked; do
    if [ ! -s "$f.crt" ] || [ ! -s "$f.key" ]; then
        echo "gen_pki: $f missing" >&2
        exit 1
    fi
done
if [ ! -s ca.crl ]; then
    echo "gen_pki: ca.crl missing" >&2
    exit 1
fi
