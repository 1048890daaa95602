#!/bin/sh
# busybox uevent runs this for every kernel event: NICs attached to the running guest get DHCP.
[ "$SUBSYSTEM" = net ] || exit 0
case "$INTERFACE" in
eth*) ;;
*) exit 0 ;;
esac
pidfile=/run/udhcpc.$INTERFACE.pid
case "$ACTION" in
add)
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && exit 0
    ip link set "$INTERFACE" up
    udhcpc -i "$INTERFACE" -s /etc/udhcpc/default.script -p "$pidfile" -O mtu -O staticroutes \
        -b -t 5 -T 2 -A 10 >/dev/null 2>&1 &
    ;;
remove)
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
    rm -f "$pidfile"
    ;;
esac
exit 0
