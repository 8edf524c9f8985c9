#!/bin/sh
# Writes the Debian changelog of version $1 to stdout, from the git
# history, so that apt-listchanges shows what changed since the installed
# version: an entry for $1 with the changes since the last release tag
# (vX.Y.Z, other than v$1), then one per earlier tagged release, newest
# first. A change is a commit's subject, wrapped; merges are left out.
# Outside git (a tarball), one entry says the release.
#
# MAINTAINER names who signs the entries; SOURCE_DATE_EPOCH, if set, dates
# the first (else its last commit does), for a reproducible package.
set -eu
version=$1
maint=${MAINTAINER:-app developers <dev@app.invalid>}
max=${CHANGELOG_MAX:-40}       # changes listed per entry; the rest counted
releases=${CHANGELOG_RELEASES:-20} # earlier releases listed

stamp() { LC_ALL=C date -u -R -d "@$1"; }

# entry VERSION RANGE EPOCH
entry() {
	printf 'app (%s) unstable; urgency=medium\n\n' "$1"
	git log --no-merges --format='%s' "$2" | awk -v max="$max" '
		{ n++ }
		n <= max {
			# wrap at 78 columns: "  * " then "    "
			line = "  *"; width = 3
			for (i = 1; i <= split($0, w, " "); i++) {
				if (width + 1 + length(w[i]) > 78 && width > 4) { print line; line = "   "; width = 3 }
				line = line " " w[i]; width += 1 + length(w[i])
			}
			print line
		}
		END {
			if (n == 0) print "  * No change but the version."
			if (n > max) printf "  * And %d earlier changes (git log).\n", n - max
		}'
	printf '\n -- %s  %s\n' "$maint" "$(stamp "$3")"
}

if ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
	printf 'app (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
		"$version" "$version" "$maint" "$(stamp "${SOURCE_DATE_EPOCH:-$(date +%s)}")"
	exit 0
fi

tags=$(git tag -l 'v[0-9]*' --sort=-version:refname --merged HEAD | grep -vx "v$version" || true)
prev=$(echo "$tags" | sed -n 1p)
entry "$version" "${prev:+$prev..}HEAD" "${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}"
echo "$tags" | head -n "$releases" | while read -r tag; do
	[ -n "$tag" ] || continue
	before=$(echo "$tags" | sed -n "/^$tag\$/{n;p;}")
	echo
	entry "${tag#v}" "${before:+$before..}$tag" "$(git log -1 --format=%ct "$tag")"
done
