# Shared by scripts/setup, scripts/test and scripts/in-current-ha (sourced, not run).
# shellcheck shell=bash

# Where the environments are cached, outside the checkout and shared by every clone.
careon_cache() {
    printf '%s\n' "${CAREON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/careon}"
}

# The marker of a finished Debian root (scripts/setup builds it in a temporary folder and renames
# it when this file is in place).
readonly CAREON_ROOT_MARKER=".careon-root-complete"

# in_root ROOT CHECKOUT COMMAND [ARG...]: run COMMAND chrooted into the Debian root ROOT, in a
# private mount namespace where the root sees CHECKOUT, the environment cache, /tmp, /proc, /sys,
# /dev and /dev/shm at their own absolute paths, with the working directory kept. Nothing stays
# mounted after it: the namespace ends with its last process. unshare, the inner shell and chroot
# each exec the next, so COMMAND takes over this shell's PID (a signal sent to it reaches
# COMMAND): it REPLACES the calling shell; call it in a subshell, `(in_root ...)`, to go on after.
# Run as root.
in_root() {
    local root=$1 checkout=$2
    shift 2
    exec unshare --mount --propagation private -- /bin/bash -euc '
root=$1 checkout=$2 cache=$3 workdir=$4
shift 4
bind() { # bind PATH [--rbind]: PATH at the same place inside the root
    mkdir -p "$root$1"
    mount "${2:---bind}" "$1" "$root$1"
}
bind_file() { # bind_file FILE: the host'"'"'s FILE (read-only) over the root'"'"'s, if the host has one
    [[ -f $1 ]] || return 0
    [[ -f $root$1 && ! -L $root$1 ]] || { rm -f "$root$1"; : >"$root$1"; }
    mount --bind -o ro "$1" "$root$1"
}
# The network is shared: resolve names as the host does, and trust the certificate authorities
# the host trusts (a proxy'"'"'s own, say, for pip).
bind_file /etc/resolv.conf
bind_file /etc/hosts
bind_file /etc/ssl/certs/ca-certificates.crt
bind /proc
bind /sys --rbind
bind /dev --rbind
bind /dev/shm
bind /tmp
bind "$cache"
bind "$checkout"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
exec chroot "$root" /bin/sh -c '\''
cd "$1" || { echo "in-current-ha: $1 is not visible inside the root (only the checkout, the cache and /tmp are)" >&2; exit 126; }
shift
exec "$@"'\'' sh "$workdir" "$@"
' careon-in-root "$root" "$checkout" "$(careon_cache)" "$PWD" "$@"
}
