#!/usr/bin/env bash
# Writes the seeds of the vault, note, manifest and intake fuzz targets from
# real files: a throwaway vault made by custodia-cli (insecure test KDF), one
# bundle it exports to the CCTV test identity, opened with Debian's age,
# zstd and tar. Run it again whenever one of those formats changes:
#   tests/fuzz/make_core_seeds.sh build/dev/app/cli/custodia-cli
# The vault, its passphrase and its key are discarded at the end.
set -euo pipefail
cli=$(realpath "$1")
out=$(realpath "${2:-$(dirname "$0")/corpus}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A published test key (C2SP CCTV age/testdata), not a secret.
identity=AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0
echo "$identity" > "$work/identity"
recipient=$(age-keygen -y "$work/identity")

export CUSTODIA_PASSPHRASE='fuzz seed passphrase' CUSTODIA_INSECURE_TEST_KDF=1
v="$work/vault"
c() { "$cli" --vault "$v" "$@"; }

c init --investigator "Seed Investigator" > "$work/init.out"
mkdir -p "$out"/fuzz_{vault_header,recovery_key,signed_note,bundle_manifest,intake_request}
cp "$v/vault.header" "$out/fuzz_vault_header/fresh"
grep -Eo '([0-9A-Z]{4}-){13}[0-9A-Z]{4}' "$work/init.out" | head -1 | tr -d '\n' > "$work/recovery"
cp "$work/recovery" "$out/fuzz_recovery_key/printed"
tr 'A-Z' 'a-z' < "$work/recovery" > "$out/fuzz_recovery_key/lower_case"
# Typed from paper: groups split by spaces, 0 read as O, 1 as l.
tr '\-01' ' Ol' < "$work/recovery" > "$out/fuzz_recovery_key/spaces_and_aliases"

echo 'another fuzz seed passphrase' > "$work/new_pass"
c passwd --new-passphrase-file "$work/new_pass" >/dev/null
cp "$v/vault.header" "$out/fuzz_vault_header/after_passwd"
export CUSTODIA_PASSPHRASE='another fuzz seed passphrase'

case_id=$(c case create "Seed case" | tail -1)
printf 'seed evidence\n' > "$work/evidence.txt"
c add --case "$case_id" "$work/evidence.txt" >/dev/null
c testimony --case "$case_id" --text "A seed testimony." --consent written \
    --consent-scope courts >/dev/null
c checkpoint > "$work/checkpoint.note"
c export --case "$case_id" --to "$recipient" --allow-without-consent -o "$work/b.custodia" >/dev/null

mkdir "$work/open"
age -d -i "$work/identity" "$work/b.custodia" | zstd -dq | tar -x -C "$work/open"
cp "$work/open/manifest.json" "$out/fuzz_bundle_manifest/manifest"
cp "$work/open/SHA256SUMS" "$out/fuzz_bundle_manifest/sha256sums"
sed -n 's/^trusted comment: //p' "$work/b.custodia.envelope" | tr -d '\n' \
    > "$out/fuzz_bundle_manifest/envelope_statement"

python3 - "$work" "$out" <<'PY'
import base64, hashlib, json, os, pathlib, struct, sys
work, out = map(pathlib.Path, sys.argv[1:3])
opened = work / "open"
note = (opened / "custody/checkpoint").read_bytes()
text = note.split(b"\n\n")[0] + b"\n"
origin, size, root_b64 = text.split(b"\n")[:3]
pub = base64.b64decode((opened / "custody/device.pub").read_text().splitlines()[1])
key = pub[10:]
key_id = hashlib.sha256(origin + b"\n" + b"\x01" + key).digest()[:4]
vkey = origin + b"+" + key_id.hex().encode() + b"+" + base64.b64encode(b"\x01" + key)
notes = out / "fuzz_signed_note"
(notes / "checkpoint_from_bundle").write_bytes(b"\x00" + vkey + b"\n" + note)
(notes / "checkpoint_from_cli").write_bytes(b"\x00" + vkey + b"\n" + (work / "checkpoint.note").read_bytes())
root = base64.b64decode(root_b64)
for proof_file in sorted((opened / "custody/proofs").iterdir()):
    lines = proof_file.read_text().splitlines()
    index = int(lines[1].split()[1]); tree_size = int(lines[2].split()[1])
    leaf = bytes.fromhex(lines[3].split()[1])
    hashes = b"".join(bytes.fromhex(l.split()[1]) for l in lines[4:])
    n = proof_file.name
    (notes / f"shape_{n}").write_bytes(b"\x01" + struct.pack("<HHH", tree_size, index, index) + b"\x07")
    (notes / f"proof_{n}").write_bytes(b"\x02" + leaf + struct.pack(">QQ", index, tree_size) + root + root + hashes)
intake = out / "fuzz_intake_request"
token = base64.urlsafe_b64encode(bytes(range(32))).rstrip(b"=").decode()
body = json.dumps({"name": "seed phone", "public_key": base64.b64encode(key).decode(), "token": token})
(intake / "enrolment").write_bytes(b"\x00" + body.encode())
bundle = (work / "b.custodia").read_bytes()
body = json.dumps({"checkpoint": note.decode(), "envelope": (work / "b.custodia.envelope").read_text()})
(intake / "upload").write_bytes(b"\x01" + str(len(bundle)).encode() + b"\n" + body.encode())
digest = base64.b64encode(hashlib.sha256(bundle).digest())
(intake / "chunk_headers").write_bytes(b"\x02application/offset+octet-stream\n0\n" + str(len(bundle)).encode() + b"\nsha256 " + digest)
(intake / "length").write_bytes(b"\x03" + str(len(bundle)).encode())
PY
echo "seeds written under $out"
