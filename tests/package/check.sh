#!/usr/bin/env bash
# Builds the .deb from this checkout (the `package` preset) and checks it as an administrator
# would meet it: what dpkg sees in it, and, unpacked into a scratch root, a binary that runs and
# tells its version, a man page that documents the options and units that systemd accepts.
# Each failure is one line on stderr and exit 1.
set -euo pipefail
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "package check FAILED: $*" >&2
  exit 1
}

# Runs a build step quietly; on failure shows its output, then the one line.
step() {
  local what=$1
  shift
  if ! "$@" >"$work/step.log" 2>&1; then
    tail -n 40 "$work/step.log" >&2
    fail "$what: \`$*\` exited non-zero"
  fi
}

step "configure" cmake --preset package
step "build" cmake --build --preset package --parallel "$(nproc)"
step "cpack" cpack --preset package -B "$work/out"

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' build/package/CMakeCache.txt)
[ -n "$version" ] || fail "no CMAKE_PROJECT_VERSION in build/package/CMakeCache.txt"
deb="$work/out/triserve_${version}_amd64.deb"
[ -f "$deb" ] || fail "cpack made no $(basename "$deb")"

# The control fields.
field() { dpkg-deb --field "$deb" "$1"; }
dpkg-deb --info "$deb" >"$work/info" || fail "dpkg-deb --info cannot read $(basename "$deb")"
[ "$(field Package)" = triserve ] || fail "Package is '$(field Package)', not triserve"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', not $version"
[ "$(field Architecture)" = amd64 ] || fail "Architecture is '$(field Architecture)', not amd64"
[ "$(field Section)" = net ] || fail "Section is '$(field Section)', not net"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
depends=$(field Depends)
# Whether Depends names package $1 (alone, versioned or as one of alternatives).
depends_on() { [[ ",$depends," =~ [\ ,|]"$1"[\ ,|\(] ]]; }
depends_on libc6 || fail "Depends does not list libc6: '$depends'"
depends_on libssl3 || fail "Depends does not list libssl3 (TLS): '$depends'"
# HTTP/2's flood limits need a libnghttp2 with nghttp2_option_set_max_continuations (CVE-2024-28182):
# Debian 12's 1.52.0-1+deb12u2. The version comes from the library's symbols file.
nghttp2_minimum=$(sed -n 's/.*libnghttp2-14 (>= \([^)]*\)).*/\1/p' <<<"$depends")
[ -n "$nghttp2_minimum" ] || fail "Depends does not ask for a version of libnghttp2-14: '$depends'"
dpkg --compare-versions "$nghttp2_minimum" ge 1.52.0-1+deb12u2~ ||
  fail "Depends asks for libnghttp2-14 >= $nghttp2_minimum, older than 1.52.0-1+deb12u2 (no CONTINUATION limit)"

# The files.
dpkg-deb --contents "$deb" | awk '{print $NF}' >"$work/contents"
for path in ./usr/bin/triserve ./usr/share/man/man1/triserve.1.gz \
  ./usr/lib/systemd/system/triserve.service ./usr/lib/systemd/system/triserve.socket \
  ./etc/triserve/triserve.toml ./usr/share/doc/triserve/examples/triserve.toml \
  ./usr/share/doc/triserve/README.md; do
  grep -qxF "$path" "$work/contents" || fail "the package has no $path"
done

# Debian policy: every file under /etc is a conffile, so upgrades keep the administrator's edits.
dpkg-deb --control "$deb" "$work/control"
[ -f "$work/control/conffiles" ] || fail "the package has no conffiles list"
while read -r path; do
  grep -qxF "${path#.}" "$work/control/conffiles" || fail "$path is under /etc but not a conffile"
done < <(grep '^\./etc/.*[^/]$' "$work/contents")
for script in postinst prerm postrm; do
  [ -x "$work/control/$script" ] || fail "the package's $script is missing or not executable"
  sh -n "$work/control/$script" || fail "the package's $script is not valid sh"
done

# Unpacked: the binary and the libraries dpkg will have to provide.
root="$work/root"
dpkg -x "$deb" "$root" || fail "dpkg -x cannot unpack $(basename "$deb")"
binary="$root/usr/bin/triserve"
[ -x "$binary" ] || fail "usr/bin/triserve is not executable once unpacked"

# Every shared library the binary loads must come from a package named in Depends (fmt and spdlog
# too, should they ever be linked as shared libraries).
while read -r library; do
  # On Debian 12's merged /usr, dpkg knows each library under /lib or /usr/lib, not both.
  owner=$({ dpkg-query -S "$library" || dpkg-query -S "/usr${library#/usr}" ||
    dpkg-query -S "${library#/usr}"; } 2>/dev/null | head -n 1 | cut -d: -f1) || true
  [ -n "$owner" ] || fail "no installed package owns $library, which the binary loads"
  depends_on "$owner" || fail "the binary loads $library from $owner, but Depends is '$depends'"
done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')

printed=$("$binary" --version) || fail "triserve --version exited non-zero"
expected="triserve $version"
# A clean checkout names its commit (a source tarball could not).
if commit=$(git rev-parse --short HEAD 2>/dev/null); then
  [[ "$printed" =~ ^"$expected (git $commit"(-dirty)?")"$ ]] ||
    fail "triserve --version printed '$printed', not '$expected (git $commit)'"
else
  [ "$printed" = "$expected" ] || fail "triserve --version printed '$printed', not '$expected'"
fi
"$binary" --help >"$work/help" || fail "triserve --help exited non-zero"
grep -q -- --drain-timeout "$work/help" || fail "triserve --help does not mention --drain-timeout"

# The man page: roff escapes each dash.
man_page="$root/usr/share/man/man1/triserve.1.gz"
zcat "$man_page" >"$work/triserve.1" || fail "the man page is not gzip"
[ -s "$work/triserve.1" ] || fail "the man page is empty"
grep -q '^\.TH TRISERVE "1" ".*" "triserve '"$version"'"' "$work/triserve.1" ||
  fail "the man page's title line does not name triserve $version"
grep -qF -- '\-\-drain\-timeout' "$work/triserve.1" || fail "the man page does not mention --drain-timeout"

# The units. systemd-analyze verify needs no running systemd, but checks that ExecStart= names an
# executable, and (with man installed) that Documentation=man:triserve(1) resolves: point both at
# the unpacked tree. Its warnings (an unknown key, a bad value) leave its exit code at 0, so any
# output fails.
if command -v systemd-analyze >/dev/null; then
  mkdir "$work/units"
  sed "s|^ExecStart=/usr/bin/triserve|ExecStart=$binary|" \
    "$root/usr/lib/systemd/system/triserve.service" >"$work/units/triserve.service"
  cp "$root/usr/lib/systemd/system/triserve.socket" "$work/units/"
  man_check=--man=yes
  command -v man >/dev/null || man_check=--man=no
  if ! MANPATH="$root/usr/share/man" systemd-analyze verify "$man_check" \
    "$work/units/triserve.service" "$work/units/triserve.socket" >"$work/verify.log" 2>&1 ||
    [ -s "$work/verify.log" ]; then
    cat "$work/verify.log" >&2
    fail "systemd-analyze verify rejects the units"
  fi
else
  echo "package check: systemd-analyze not found, units not verified"
fi

echo "package check passed: $(basename "$deb"), $(($(stat -c %s "$deb") / 1024)) KiB," \
  "Depends: $depends, in ${SECONDS} s"
