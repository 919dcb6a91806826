#!/bin/sh
# Makes a throwaway CA and the certificates the TLS tests serve, in directory $1, with the openssl
# command line: no private key is ever committed. Every file is named for what a test does with it.
set -eu
dir=$1
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "make_certificates.sh: failed: $*" >&2; exit 1; }; }

# The CA clients trust (--cacert), and a CA they do not.
quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=triserve test CA" -keyout ca.key -out ca.pem
cat > ca.cnf <<CONF
[ca]
default_ca = test_ca
[test_ca]
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
default_md = sha256
policy = any_name
copy_extensions = copy
[any_name]
commonName = supplied
CONF
: > index.txt
echo 1000 > serial

# issue NAME KEYSPEC DAYS-OR-DATES: a certificate for localhost, 127.0.0.1 and ::1 signed by the CA.
issue() {
  name=$1 keyspec=$2 validity=$3
  # shellcheck disable=SC2086
  quiet openssl req -new -newkey $keyspec -nodes -subj "/CN=$name" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" -keyout "$name.key" -out "$name.csr"
  # shellcheck disable=SC2086
  quiet openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -notext \
    -in "$name.csr" -out "$name.pem" $validity
}
issue server "ec -pkeyopt ec_paramgen_curve:P-256" "-days 30"
issue renewed "ec -pkeyopt ec_paramgen_curve:P-256" "-days 60"
issue rsa "rsa:2048" "-days 30"
issue ed25519 "ed25519" "-days 30"
issue expiring "ec -pkeyopt ec_paramgen_curve:P-256" "-days 3"
issue expired "ec -pkeyopt ec_paramgen_curve:P-256" "-startdate 20200101000000Z -enddate 20200201000000Z"

# The leaf followed by its chain, as certbot's fullchain.pem.
cat server.pem ca.pem > fullchain.pem
# A key protected by a passphrase, and files that are not what they claim.
quiet openssl pkey -in server.key -aes256 -passout pass:secret -out encrypted.key
printf 'this is not PEM\n' > not_pem.txt
