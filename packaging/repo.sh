#!/bin/bash
# packaging/repo.sh DEB...: a signed APT repository of the app packages,
# built with Debian's own tools (apt-ftparchive, gpg). Run by `make repo`.
#
#   REPO_DIR       where it goes (replaced whole, only once it is complete)
#   REPO_KEY_FILE  an armored secret key to sign with (imported into a
#                  throwaway keyring), or
#   REPO_KEY_ID    a key in the caller's keyring (GNUPGHOME)
#   REPO_URL       the address operators fetch it from, for app.sources
#   REPO_SUITE     the suite (stable)
#
# The signing key comes from the environment; none is ever committed.
set -euo pipefail

out=${REPO_DIR:?}
suite=${REPO_SUITE:-stable}
url=${REPO_URL:-https://apt.example.com/app}
die() { echo "make repo: $*" >&2; exit 1; }
cleanup_keyring() {
	[ -n "${GNUPGHOME:-}" ] || return 0
	# Lazily: the agent may still be on its way out. The tmpfs goes with
	# the mount namespace anyway; this leaves no empty mount point.
	[ -z "${APP_REPO_SEALED:-}" ] || umount -l "$GNUPGHOME" 2>/dev/null || true
	rm -rf "$GNUPGHOME" || true
}

[ $# -gt 0 ] || die "no packages: build them with make deb VERSION=x.y.z, or name them with DEBS=..."
command -v apt-ftparchive >/dev/null || die "apt-ftparchive is missing: apt-get install apt-utils"
command -v gpg >/dev/null || die "gpg is missing: apt-get install gnupg"
for deb in "$@"; do
	[ -f "$deb" ] || die "$deb: no such file"
	name=$(dpkg-deb --field "$deb" Package 2>/dev/null) || die "$deb: not a Debian package (dpkg-deb cannot read it)"
	[ "$name" = app ] || die "$deb: package \"$name\", not app"
done

# A secret key imported from REPO_KEY_FILE must not outlive the run, even
# when the run is killed (SIGKILL runs no trap): it is imported into a
# keyring on a tmpfs in a mount namespace of the run's own, and gpg's agent
# runs in a PID namespace of its own. When the run ends, however it ends,
# the kernel kills every process in that namespace (--kill-child: the run
# is its init) and the tmpfs goes with the mount namespace: no key on disk,
# no agent left. Where namespaces cannot be had (no root, no unprivileged
# user namespaces), the keyring is a plain temporary directory on
# /dev/shm, removed by the trap, and a SIGKILL leaves it there: say so.
if [ -n "${REPO_KEY_FILE:-}" ] && [ -z "${APP_REPO_SEALED:-}" ]; then
	[ -f "$REPO_KEY_FILE" ] || die "REPO_KEY_FILE=$REPO_KEY_FILE: no such file"
	ns="--mount --pid --fork --kill-child --mount-proc"
	[ "$(id -u)" = 0 ] || ns="--user --map-root-user $ns"
	# shellcheck disable=SC2086 # ns is a list of options
	if unshare $ns true 2>/dev/null; then
		export APP_REPO_SEALED=1
		exec unshare $ns "$0" "$@"
	fi
	echo "make repo: warning: no namespaces here (unshare $ns failed): a SIGKILL would leave the imported key in a temporary keyring; see README (REPO_KEY_ID)" >&2
fi

if [ -n "${REPO_KEY_FILE:-}" ]; then
	[ -f "$REPO_KEY_FILE" ] || die "REPO_KEY_FILE=$REPO_KEY_FILE: no such file"
	if [ -n "${APP_REPO_SEALED:-}" ]; then
		GNUPGHOME=$(mktemp -d "${TMPDIR:-/tmp}/app-repo-gnupg.XXXXXX")
		mount -t tmpfs -o size=16m,mode=0700 app-repo-gnupg "$GNUPGHOME" || die "cannot mount a tmpfs for the keyring"
	else
		GNUPGHOME=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/app-repo-gnupg.XXXXXX")
	fi
	export GNUPGHOME
	trap 'gpgconf --kill all >/dev/null 2>&1 || true; cleanup_keyring' EXIT
	gpg --batch --quiet --import "$REPO_KEY_FILE" 2>/dev/null ||
		die "REPO_KEY_FILE=$REPO_KEY_FILE: gpg cannot import it"
	key=$(gpg --batch --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }')
	[ -n "$key" ] || die "REPO_KEY_FILE=$REPO_KEY_FILE: holds no secret key (export it with gpg --armor --export-secret-keys)"
elif [ -n "${REPO_KEY_ID:-}" ]; then
	key=$REPO_KEY_ID
	gpg --batch --list-secret-keys "$key" >/dev/null 2>&1 ||
		die "REPO_KEY_ID=$key: no such secret key in ${GNUPGHOME:-~/.gnupg}"
else
	die "no signing key: set REPO_KEY_FILE (an armored secret key) or REPO_KEY_ID (a key in GNUPGHOME)"
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$(dirname "$out")/.repo.XXXXXX")
trap 'rm -rf "$tmp"; [ -z "${REPO_KEY_FILE:-}" ] || { gpgconf --kill all >/dev/null 2>&1 || true; cleanup_keyring; }' EXIT
dists=dists/$suite
mkdir -p "$tmp/pool/main" "$tmp/$dists/main/binary-amd64"
cp "$@" "$tmp/pool/main/"
(
	cd "$tmp"
	apt-ftparchive packages pool/main > "$dists/main/binary-amd64/Packages"
	gzip -9nk "$dists/main/binary-amd64/Packages"
	apt-ftparchive \
		-o APT::FTPArchive::Release::Origin=app \
		-o APT::FTPArchive::Release::Label=app \
		-o "APT::FTPArchive::Release::Suite=$suite" \
		-o "APT::FTPArchive::Release::Codename=$suite" \
		-o APT::FTPArchive::Release::Architectures=amd64 \
		-o APT::FTPArchive::Release::Components=main \
		-o "APT::FTPArchive::Release::Description=app: systemd-native process cluster" \
		release "$dists" > Release
	mv Release "$dists/Release"
	gpg --batch --yes --local-user "$key" --digest-algo SHA512 --clearsign -o "$dists/InRelease" "$dists/Release"
	gpg --batch --yes --local-user "$key" --digest-algo SHA512 --armor --detach-sign -o "$dists/Release.gpg" "$dists/Release"
	gpg --batch --export "$key" > app-archive-keyring.gpg
	gpg --batch --armor --export "$key" > app-archive-keyring.asc
	cat > app.sources <<SOURCES
Types: deb
URIs: $url
Suites: $suite
Components: main
Architectures: amd64
Signed-By: /usr/share/keyrings/app-archive-keyring.gpg
SOURCES
)
chmod -R a+rX "$tmp"
rm -rf "$out.old"
[ ! -e "$out" ] || mv "$out" "$out.old"
mv "$tmp" "$out"
rm -rf "$out.old"
echo "$out: $# package(s) in $suite, signed by $key"
echo "operators add it with app.sources and app-archive-keyring.gpg from $url"
