#!/bin/bash
# tests/package/in_root.sh TMP DEB JOBS_DIR, run by tests/package/run under
# `unshare -m -p -f`: builds a throw-away copy of the host's root (overlayfs,
# lowerdir=/ read-only, upper layer on a tmpfs under TMP) and installs, checks,
# removes and purges DEB in it with the real dpkg and maintainer scripts
# (chroot). Every mount lives in this private mount namespace: when it exits
# (also on failure, timeout or Ctrl-C) the kernel drops them all and the tmpfs
# with them, so nothing reaches the host. No daemon is started inside.
set -euo pipefail

tmp=$1 deb=$2 jobs=$3
root=$tmp/root
mkdir -p "$root"
mount -t tmpfs -o size=512m,mode=0700 lrsched-pkg "$root"
mkdir "$root/upper" "$root/work" "$root/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$root/upper,workdir=$root/work" "$root/merged"
m=$root/merged
mount -t proc proc "$m/proc"
mount --bind /dev "$m/dev"
# Fresh /run and /tmp: no /run/systemd/system, so the maintainer scripts see
# no running systemd (as in a container or a chroot).
mount -t tmpfs tmpfs "$m/run"
mount -t tmpfs tmpfs "$m/tmp"
cp "$deb" "$m/tmp/lrsched.deb"
mkdir "$m/tmp/jobs"
cp -r "$jobs"/. "$m/tmp/jobs/"

cat >"$m/tmp/check.sh" <<'EOF'
set -u
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
failures=0
fail() { echo "FAIL (in root): $*" >&2; failures=$((failures + 1)); }
mode() { # PATH EXPECTED: owner:group and octal mode
    local got
    got=$(stat -c '%U:%G %a' "$1" 2>&1)
    [ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
getent passwd lrsched >/dev/null && fail "user lrsched exists before the install"

echo "-- dpkg -i"
dpkg -i /tmp/lrsched.deb || { fail "dpkg -i"; exit 1; }
dpkg -L lrsched | LC_ALL=C sort
echo "-- user, owners, modes"
getent passwd lrsched || fail "no user lrsched"
getent group lrsched || fail "no group lrsched"
[ "$(getent passwd lrsched | cut -d: -f6,7)" = /var/lib/lrsched:/usr/sbin/nologin ] ||
    fail "lrsched's home or shell: $(getent passwd lrsched)"
[ "$(id -u lrsched)" -lt 1000 ] || fail "lrsched is not a system user"
mode /etc/lrsched "root:lrsched 750"
mode /etc/lrsched/jobs "root:root 755"
mode /etc/lrsched/lrsched.yaml "root:root 644"
mode /usr/bin/lrsched "root:root 755"
mode /lib/systemd/system/lrsched.service "root:root 644"
mode /usr/lib/sysusers.d/lrsched.conf "root:root 644"
dpkg-statoverride --list /etc/lrsched || fail "no stat override on /etc/lrsched"
[ -z "$(ls -A /etc/lrsched/jobs)" ] || fail "/etc/lrsched/jobs is not empty"
ls /etc/systemd/system/multi-user.target.wants/lrsched.service 2>/dev/null && fail "the package enabled the service"

echo "-- the installed binary"
lrsched --help >/dev/null || fail "lrsched --help"
lrsched --version || fail "lrsched --version"
ex=/usr/share/doc/lrsched/examples
lrsched validate "$ex"/jobs/*.yaml || fail "validate the installed example jobs"
# The shipped configuration as /etc/lrsched/lrsched.yaml, with the example
# jobs in jobs_dir and the secret file it names: what an operator starts from.
cp -r "$ex"/jobs/. /etc/lrsched/jobs/
(umask 077 && echo not-a-real-secret >/etc/lrsched/contoso.secret)
lrsched validate -c /etc/lrsched/lrsched.yaml || fail "validate -c /etc/lrsched/lrsched.yaml"
# The service's user reads the configuration through its group.
setpriv --reuid lrsched --regid lrsched --init-groups lrsched validate /etc/lrsched/jobs/*.yaml >/dev/null ||
    fail "user lrsched cannot read /etc/lrsched/jobs"
if setpriv --reuid nobody --regid nogroup --clear-groups cat /etc/lrsched/lrsched.yaml >/dev/null 2>&1; then
    fail "another user reads /etc/lrsched"
fi

echo "-- dpkg -r"
dpkg -r lrsched || fail "dpkg -r"
[ ! -e /usr/bin/lrsched ] || fail "/usr/bin/lrsched left after remove"
[ -f /etc/lrsched/lrsched.yaml ] || fail "remove deleted the conffile"
getent passwd lrsched >/dev/null || fail "remove deleted the user"

echo "-- dpkg --purge with evidence in /var/lib/lrsched: kept"
mkdir -p /var/lib/lrsched/evidence/nightly-autoruns/1/host1
echo evidence >/var/lib/lrsched/evidence/nightly-autoruns/1/host1/0-GetFile-x.zip
touch /var/lib/lrsched/lrsched.db /var/lib/lrsched/lrsched.lock
dpkg --purge lrsched || fail "dpkg --purge"
[ -f /var/lib/lrsched/evidence/nightly-autoruns/1/host1/0-GetFile-x.zip ] || fail "purge deleted evidence"
[ -f /var/lib/lrsched/lrsched.db ] || fail "purge deleted the store beside evidence"
[ ! -e /etc/lrsched/lrsched.yaml ] || fail "purge left the conffile"
[ -f /etc/lrsched/contoso.secret ] || fail "purge deleted the operator's secret"
dpkg-statoverride --list /etc/lrsched && fail "purge left the stat override"

echo "-- again, then dpkg --purge with no evidence: /var/lib/lrsched goes"
dpkg -i /tmp/lrsched.deb >/dev/null || fail "dpkg -i (second)"
mode /etc/lrsched "root:lrsched 750"
rm -r /var/lib/lrsched/evidence/nightly-autoruns/1/host1/0-GetFile-x.zip
dpkg --purge lrsched || fail "dpkg --purge (second)"
[ ! -e /var/lib/lrsched ] || fail "purge left /var/lib/lrsched with no evidence: $(ls -AR /var/lib/lrsched)"
dpkg -s lrsched >/dev/null 2>&1 && fail "lrsched still known to dpkg"

echo "-- with no systemd-sysusers: adduser makes the same user"
userdel lrsched
getent group lrsched >/dev/null && groupdel lrsched
mv /usr/bin/systemd-sysusers /usr/bin/systemd-sysusers.hidden
dpkg -i /tmp/lrsched.deb >/dev/null || fail "dpkg -i (adduser)"
getent passwd lrsched || fail "adduser made no user lrsched"
[ "$(getent passwd lrsched | cut -d: -f6,7)" = /var/lib/lrsched:/usr/sbin/nologin ] ||
    fail "lrsched's home or shell (adduser): $(getent passwd lrsched)"
[ "$(id -u lrsched)" -lt 1000 ] || fail "lrsched is not a system user (adduser)"
[ "$(id -gn lrsched)" = lrsched ] || fail "lrsched's group (adduser): $(id lrsched)"
mode /etc/lrsched "root:lrsched 750"
dpkg --purge lrsched >/dev/null || fail "dpkg --purge (adduser)"
mv /usr/bin/systemd-sysusers.hidden /usr/bin/systemd-sysusers
exit "$failures"
EOF

chroot "$m" /bin/bash /tmp/check.sh
