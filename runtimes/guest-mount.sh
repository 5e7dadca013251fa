#!/bin/sh
# Runs inside a private mount namespace (started by `unshare -m`): shows this member's directories at
# the paths KubeDirector scripts expect, then becomes the script. Mounts vanish with the namespace.
# Usage: guest-mount.sh OPT_GUESTCONFIG ETC_GUESTCONFIG SCRIPT [ARG...]   (no argument is evaluated)
opt=$1 etc=$2
shift 2
mount --bind "$opt" /opt/guestconfig && mount --bind "$etc" /etc/guestconfig || {
  echo "kdflow: could not bind-mount the member's guestconfig directories" >&2
  exit 125
}
exec "$@"
