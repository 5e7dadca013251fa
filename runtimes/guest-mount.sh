#!/bin/sh
# Runs inside a private mount namespace (started by `unshare -m`): shows this member's directories at
# the paths a pod would have them, then becomes the script. Mounts vanish with the namespace.
# Usage: guest-mount.sh OPT_GUESTCONFIG ETC_GUESTCONFIG [--root HOME] [--hosts CLUSTER_HOSTS HOSTS_FILE
#          HOSTNAME] [--persist MEMBER FILE] [--bind SRC DST]... SCRIPT [ARG...]   (in this order; nothing evaluated)
# --persist: a file of persistDirs, one a line, each bound from MEMBER/DIR (the member's volume); --bind: a
# directory from the member's volume, such as /tmp (docs/adr/0046); --hosts: /etc/hosts from the
# cluster's hosts lines (one a member) and /etc/hostname; --root: kdflow's home (the members'
# directories and the files kdflow keeps beside them), bound back at its own path when a mount hid it
# (a KDFLOW_HOME under /tmp), so the member's files stay reachable.
opt=$1 etc=$2
shift 2
fail() {
  echo "kdflow: $1" >&2
  exit 125
}
root= hosts=
# A persistDir or /tmp: the mount point is the host's, made when missing (as /opt/guestconfig is: docs/adr/0006).
bind() {
  [ -d "$1" ] || mkdir -p "$1" || fail "could not make $1"
  [ -d "$2" ] || mkdir -p "$2" 2> /dev/null || fail "could not make the mount point $2"
  mount --bind "$1" "$2" || fail "could not bind-mount $1 at $2"
}
while :; do
  case ${1-} in
    --root)
      root=$2
      exec 9< "$root" || fail "could not open $root"
      shift 2 ;;
    --hosts)
      # Rewritten in place, so a daemon's bind mount of an earlier run sees the new members too.
      { printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
        cat "$2" 2> /dev/null; } > "$3" || fail "could not write $3"
      printf '%s\n' "$4" > "${3%/*}/hostname" || fail "could not write ${3%/*}/hostname"
      hosts=$3
      shift 4 ;;
    --persist)
      if [ -f "$3" ]; then
        while IFS= read -r dir; do [ -z "$dir" ] || bind "$2$dir" "$dir"; done < "$3"
      fi
      shift 3 ;;
    --bind) bind "$2" "$3" && shift 3 ;;
    *) break ;;
  esac
done
if [ -n "$root" ]; then
  # A mount above hid kdflow's home: bind it back (-c: the fd, not the path it names now).
  [ "$root" -ef /proc/self/fd/9 ] || { mkdir -p "$root" && mount -c --bind /proc/self/fd/9 "$root"; } ||
    fail "could not show $root again"
  exec 9<&-
fi
mount --bind "$opt" /opt/guestconfig && mount --bind "$etc" /etc/guestconfig || {
  echo "kdflow: could not bind-mount the member's guestconfig directories" >&2
  exit 125
}
if [ -n "$hosts" ]; then
  mount --bind "$hosts" /etc/hosts || fail "could not bind-mount /etc/hosts"
  [ ! -e /etc/hostname ] || mount --bind "${hosts%/*}/hostname" /etc/hostname || fail "could not bind-mount /etc/hostname"
fi
exec "$@"
