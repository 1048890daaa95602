#!/bin/sh
# /init of the ministack-test guest (busybox sh, PID 1), CirrOS-like: modules, DHCP on every
# NIC, config drive (label config-2) or metadata service, hostname, root's SSH keys, dropbear,
# user data; then a banner on the console and busybox init (console shell, poweroff, reboot).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
umask 022

META_URL=http://169.254.169.254/openstack/latest
STATE=/run/ministack

log() {
    read -r uptime _ </proc/uptime 2>/dev/null
    echo "[${uptime:-0}] ministack-test: $*"
}

mount_basics() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs -o mode=0755 devtmpfs /dev
    mkdir -p /dev/pts /dev/shm
    mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
    mount -t tmpfs -o mode=1777 tmpfs /dev/shm
    mount -t tmpfs -o mode=0755 tmpfs /run
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mkdir -p "$STATE" /run/dropbear /var/log
    ln -sf /proc/self/fd /dev/fd
    ln -sf /proc/mounts /etc/mtab
}

load_modules() {
    # load-order lists each module after the modules it depends on (made at build time)
    while read -r module; do
        [ -n "$module" ] || continue
        insmod "/lib/modules/$module" 2>/dev/null || log "module $module did not load"
    done </lib/modules/load-order
}

start_network() {
    ip link set lo up
    first=yes
    for path in /sys/class/net/*; do
        iface=${path##*/}
        [ "$iface" = lo ] && continue
        ip link set "$iface" up
        opts="-i $iface -s /etc/udhcpc/default.script -p /run/udhcpc.$iface.pid"
        opts="$opts -O mtu -O staticroutes -b"
        if [ "$first" = yes ]; then
            # the first NIC gets up to ~20 s in the foreground: the banner should show its address
            # shellcheck disable=SC2086
            udhcpc $opts -t 10 -T 2 -A 5 >/dev/null 2>&1 || log "DHCP on $iface failed"
            first=no
        else
            # shellcheck disable=SC2086
            udhcpc $opts -t 3 -T 2 -A 10 >/dev/null 2>&1 &
        fi
    done
}

find_config_drive() {
    # insmod waits for the drivers' probes, so disks are there by now; a cdrom may still be
    # spinning up its medium under emulation: wait up to 6 s when there is one, 0.6 s otherwise
    tries=0
    while [ "$tries" -lt 30 ]; do
        for label in config-2 CONFIG-2; do
            dev=$(findfs "LABEL=$label" 2>/dev/null) && { echo "$dev"; return 0; }
        done
        tries=$((tries + 1))
        if [ "$tries" -ge 3 ] && [ ! -e /sys/block/sr0 ]; then
            return 1
        fi
        sleep 0.2
    done
    return 1
}

read_config_drive() {
    dev=$(find_config_drive) || return 1
    mkdir -p /mnt/config
    mounted=no
    for fstype in iso9660 vfat; do
        if mount -t "$fstype" -o ro "$dev" /mnt/config 2>/dev/null; then
            mounted=yes
            break
        fi
    done
    if [ "$mounted" = no ]; then
        log "config drive $dev found but could not be mounted"
        return 1
    fi
    log "config drive: $dev"
    src=/mnt/config/openstack/latest
    [ -f "$src/meta_data.json" ] && cp "$src/meta_data.json" "$STATE/meta_data.json"
    [ -f "$src/user_data" ] && cp "$src/user_data" "$STATE/user_data"
    umount /mnt/config
    [ -f "$STATE/meta_data.json" ]
}

read_metadata_service() {
    ip -4 route show | grep -q . || return 1
    # timeout(1) bounds each fetch: busybox 1.35's `wget -T` crashes
    timeout 10 wget -q -O "$STATE/meta_data.json" "$META_URL/meta_data.json" 2>/dev/null \
        || { rm -f "$STATE/meta_data.json"; return 1; }
    log "metadata service: $META_URL"
    timeout 10 wget -q -O "$STATE/user_data" "$META_URL/user_data" 2>/dev/null \
        || rm -f "$STATE/user_data"
    return 0
}

# The first string value of "$1" in the JSON on stdin (metadata keys are unique enough).
json_string() {
    tr -d '\n\r' | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p"
}

# The string values of the "public_keys" object on stdin, one per line (keys are one line each).
json_public_keys() {
    tr -d '\n\r' \
        | sed -n 's/.*"public_keys"[[:space:]]*:[[:space:]]*{\([^}]*\)}.*/\1/p' \
        | grep -o '"[^"]*"[[:space:]]*:[[:space:]]*"[^"]*"' \
        | sed 's/^"[^"]*"[[:space:]]*:[[:space:]]*"//; s/"$//; s/\\n/\n/g; s/\\\//\//g' \
        | grep -v '^[[:space:]]*$'
}

# The server's adminPass (config drive or metadata service) becomes root's console password.
# Debian's static busybox has mkpasswd but no chpasswd, so the shadow entry is written here.
set_root_password() {
    case "$1" in
    "" | *\\*) return 0 ;; # none, or JSON escapes json_string does not undo: leave root as is
    esac
    hash=$(mkpasswd -m sha512 "$1" 2>/dev/null) || return 0
    sed -i "s|^root:[^:]*:|root:$hash:|" /etc/shadow && log "set root's password from admin_pass"
}

apply_metadata() {
    name=""
    if [ -f "$STATE/meta_data.json" ]; then
        name=$(json_string hostname <"$STATE/meta_data.json")
        uuid=$(json_string uuid <"$STATE/meta_data.json")
        [ -n "$uuid" ] && echo "$uuid" >"$STATE/instance-id"
        keys=$(json_public_keys <"$STATE/meta_data.json")
        if [ -n "$keys" ]; then
            mkdir -p /root/.ssh
            chmod 700 /root /root/.ssh
            echo "$keys" >/root/.ssh/authorized_keys
            chmod 600 /root/.ssh/authorized_keys
            log "installed $(echo "$keys" | wc -l) SSH key(s) for root"
        fi
        set_root_password "$(json_string admin_pass <"$STATE/meta_data.json")"
    fi
    [ -z "$name" ] && [ -f "$STATE/dhcp-hostname" ] && name=$(cat "$STATE/dhcp-hostname")
    [ -z "$name" ] && name=ministack-test
    hostname "$name"
    echo "$name" >/etc/hostname
    printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s %s\n' "$name" "${name%%.*}" >/etc/hosts
}

start_services() {
    syslogd -C64
    klogd
    # NICs attached later (interface attach) get DHCP too
    uevent /etc/uevent.sh >/dev/null 2>&1 &
    # the power button arrives as an input event; acpid runs /etc/acpi/PWRF/00000080
    acpid -l /var/log/acpid.log
    mkdir -p /etc/dropbear
    key=/etc/dropbear/dropbear_ed25519_host_key
    log "generating the SSH host key"
    dropbearkey -t ed25519 -f "$key" >/dev/null 2>&1
    echo "-----BEGIN SSH HOST KEY KEYS-----"
    dropbearkey -y -f "$key" 2>/dev/null | grep '^ssh-'
    echo "-----END SSH HOST KEY KEYS-----"
    # -R makes the other host key types on first use; -s: keys only, no passwords
    dropbear -R -s -p 22 -P /run/dropbear/dropbear.pid
}

run_user_data() {
    [ -s "$STATE/user_data" ] || return 0
    if [ "$(head -c 2 "$STATE/user_data")" != "#!" ]; then
        log "user data is not a script (no #!): not run"
        return 0
    fi
    cp "$STATE/user_data" "$STATE/user-data.run"
    chmod 700 "$STATE/user-data.run"
    log "running user data"
    "$STATE/user-data.run" </dev/null
    log "user data exited with status $?"
}

mount_basics
log "booting $(uname -r)"
load_modules
log "modules loaded"
start_network
read_config_drive || read_metadata_service || log "no config drive and no metadata service"
apply_metadata
start_services
run_user_data

address=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
echo "=== ministack-test ready: hostname=$(hostname) ip=${address:-none} ==="
echo "$(hostname) login: root (SSH key only); press Enter for a root shell on this console"
exec /sbin/init
