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

rm -rf ./*.csr expired-db
chmod 600 ./*.key
for f in ca server client other-ca other-client wrongname expired; do
    if [ ! -s "$f.crt" ] || [ ! -s "$f.key" ]; then
        echo "gen_pki: $f missing" >&2
        exit 1
    fi
done
