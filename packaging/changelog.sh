#!/bin/sh
# Writes the Debian changelog entry for version $1 to stdout (native
# package: /usr/share/doc/app/changelog.gz).
set -eu
version=$1
date=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")
cat <<CHANGES
app ($version) unstable; urgency=medium

  * Release $version. See /usr/share/doc/app/README.md.

 -- app maintainers <app@example.com>  $date
CHANGES
