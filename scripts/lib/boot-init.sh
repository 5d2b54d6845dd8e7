#!/bin/sh
# boot-init.sh — the /init of scripts/boot-test.sh's initramfs (busybox sh, kmod's
# modprobe). It loads every module the dkms under test installed, package by package
# as /etc/boot-test/modules lists them ("PACKAGE MODULE..."), exercises each package,
# reports on the serial console and powers off. Every line the host reads starts
# with "BOOT-TEST: ":
#   BOOT-TEST: KMSG <package>: <line>     the kernel's messages while it loaded and ran
#   BOOT-TEST: INFO <package>: <text>     what a check saw
#   BOOT-TEST: RESULT <package> PASS|FAIL <detail>
#   BOOT-TEST: DONE
# A package passes when every module loads (modprobe exits 0, /sys/module/M/initstate
# is "live"), its own check passes, and its kernel messages hold no unknown symbol,
# symbol version disagreement, invalid format, BUG, WARNING, Oops or call trace.
# Taint flags and signature messages are reported, never failed on: Debian's kernel
# trusts only Debian's key, so a module signed by any dkms's own key taints it (E).

export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1

say() { echo "BOOT-TEST: $*"; }

echo 1 > /proc/sys/kernel/printk   # keep the kernel off the console: we read dmesg
say "KERNEL $(uname -r)"
# Boot messages are of no package: drop them (the host keeps the whole log on failure).
dmesg -c >/dev/null

note=""       # what the current package's check found wrong
info() { say "INFO $pkg: $*"; }
bad() { note="$note${note:+; }$*"; info "FAIL: $*"; }

live() {  # live MODULE: loaded and initialised (dashes in names are underscores in sysfs)
    local m
    m=$(echo "$1" | tr - _)
    [ "$(cat /sys/module/$m/initstate 2>/dev/null)" = live ]
}

check_v4l2loopback() {
    [ -c /dev/video0 ] && info "/dev/video0 is a character device" || bad "no /dev/video0"
    [ -r /sys/class/video4linux/video0/name ] && info "video0 is \"$(cat /sys/class/video4linux/video0/name)\""
}

check_acpi_call() {
    [ -e /proc/acpi/call ] || { bad "no /proc/acpi/call"; return; }
    # \_SB.PCI0._HID: the PCI root bridge's hardware id, present in every qemu pc's DSDT.
    printf '%s' '\_SB.PCI0._HID' > /proc/acpi/call || { bad "writing /proc/acpi/call failed"; return; }
    local a
    a=$(tr -d '\000' < /proc/acpi/call)
    info "/proc/acpi/call answers \\_SB.PCI0._HID = $a"
    case $a in 0x*) ;; *) bad "unexpected answer '$a'" ;; esac
}

check_dm_writeboost() {
    modprobe loop max_loop=4 2>/dev/null || true
    dd if=/dev/zero of=/tmp/backing.img bs=1M count=64 2>/dev/null
    dd if=/dev/zero of=/tmp/cache.img bs=1M count=32 2>/dev/null
    losetup /dev/loop0 /tmp/backing.img && losetup /dev/loop1 /tmp/cache.img || { bad "losetup failed"; return; }
    local sectors
    sectors=$(blockdev --getsz /dev/loop0)
    echo "0 $sectors writeboost /dev/loop0 /dev/loop1" | dmsetup create --noudevsync wbtest ||
        { bad "dmsetup create writeboost failed"; return; }
    # Without udev nothing makes /dev/mapper/NAME (devtmpfs has /dev/dm-N): dmsetup does.
    dmsetup mknodes wbtest
    [ -b /dev/mapper/wbtest ] || { bad "no block device /dev/mapper/wbtest"; dmsetup remove --noudevsync wbtest; return; }
    info "table: $(dmsetup table wbtest)"
    dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2>/dev/null
    dd if=/tmp/pattern of=/dev/mapper/wbtest bs=1M conv=fsync 2>/dev/null || bad "write to the writeboost device failed"
    blockdev --flushbufs /dev/mapper/wbtest
    echo 3 > /proc/sys/vm/drop_caches
    dd if=/dev/mapper/wbtest of=/tmp/readback bs=1M count=4 2>/dev/null
    if cmp -s /tmp/pattern /tmp/readback; then info "4 MiB written through writeboost read back equal"; else bad "data read back differs"; fi
    # Write back everything cached to the backing device, then read it there.
    dmsetup message wbtest 0 drop_caches || bad "dmsetup message drop_caches failed"
    info "status: $(dmsetup status wbtest)"
    dmsetup remove --noudevsync wbtest || bad "dmsetup remove failed"
    blockdev --flushbufs /dev/loop0
    dd if=/dev/loop0 of=/tmp/backing-read bs=1M count=4 2>/dev/null
    if cmp -s /tmp/pattern /tmp/backing-read; then info "the data reached the backing device"; else bad "backing device does not hold the data after drop_caches"; fi
    losetup -d /dev/loop0; losetup -d /dev/loop1
    rm -f /tmp/*.img /tmp/pattern /tmp/readback /tmp/backing-read
}

check_gost_crypto() {
    # gost-test ran the package's test vectors in its init (it fails to load otherwise);
    # the kernel's own testmgr ran its self-tests when each algorithm was registered.
    local a seen
    for a in gost28147-tc26z magma kuznyechik gosthash94 streebog256 streebog512; do
        seen=$(awk -v n="$a" '$1 == "name" { name = $3 } $1 == "selftest" && name == n { print $3; exit }' /proc/crypto)
        if [ "$seen" = passed ]; then info "/proc/crypto: $a, selftest passed"; else bad "/proc/crypto: $a selftest '${seen:-missing}'"; fi
    done
}

check_jool() {
    for m in jool_common jool jool_siit; do live $m || bad "$m not live"; done
    info "jool live: $(cat /sys/module/jool/initstate 2>/dev/null), jool_siit: $(cat /sys/module/jool_siit/initstate 2>/dev/null)"
}

check_ddcci() { :; }     # an i2c driver with no DDC/CI monitor here: loading it is the check

check_zfs() {
    # A pool on a file: created, written, exported, imported again, read back.
    local out
    [ -c /dev/zfs ] && info "/dev/zfs is a character device" || { bad "no /dev/zfs"; return; }
    [ -x /sbin/zpool ] || { bad "no zpool in the initramfs"; return; }
    mkdir -p /tmp/zfs
    truncate -s 128M /tmp/zfs/vdev
    out=$(zpool create -f -o cachefile=none -m /tank tank /tmp/zfs/vdev 2>&1) || { bad "zpool create: $out"; return; }
    info "created: $(zpool list -H -o name,size,health tank)"
    dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 2>/dev/null
    cp /tmp/pattern /tank/data && sync || bad "writing /tank/data failed"
    out=$(zpool export tank 2>&1) || bad "zpool export: $out"
    [ ! -e /tank/data ] || bad "/tank/data is still there after the export"
    out=$(zpool import -o cachefile=none -d /tmp/zfs tank 2>&1) || { bad "zpool import: $out"; return; }
    info "imported: $(zpool list -H -o name,size,health tank)"
    if cmp -s /tmp/pattern /tank/data; then info "8 MiB written, exported, imported, read back equal"
    else bad "/tank/data read back after the import differs"; fi
    [ "$(zpool list -H -o health tank)" = ONLINE ] || bad "pool not ONLINE: $(zpool status tank | tr '\n' ' ')"
    out=$(zpool destroy tank 2>&1) || bad "zpool destroy: $out"
    rm -f /tmp/zfs/vdev /tmp/pattern
}

# The kernel's messages while a package loaded and ran.
problems='Unknown symbol|disagrees about version|invalid module format|Exec format|BUG:|WARNING:|Oops|Call Trace|general protection|kernel panic|unable to handle'

while read -r pkg modules; do
    [ -n "$pkg" ] || continue
    note=""
    for m in $modules; do
        out=$(modprobe "$m" 2>&1) || bad "modprobe $m: exit $? $out"
        live "$m" || bad "$m is not live"
    done
    fn=check_$(echo "$pkg" | tr - _)
    if type "$fn" >/dev/null 2>&1; then "$fn"; fi
    taints=""
    for m in $modules; do
        t=$(cat /sys/module/$(echo "$m" | tr - _)/taint 2>/dev/null)
        taints="$taints $m=${t:-none}"
    done
    dmesg -c > /tmp/kmsg
    while IFS= read -r line; do say "KMSG $pkg: $line"; done < /tmp/kmsg
    grep -Eq "$problems" /tmp/kmsg && bad "kernel messages: $(grep -E "$problems" /tmp/kmsg | head -n 3 | tr '\n' ' ')"
    sig=""
    grep -q 'module verification failed' /tmp/kmsg && sig=" (kernel: module verification failed: unknown signing key, taints E)"
    if [ -z "$note" ]; then say "RESULT $pkg PASS taint:$taints$sig"; else say "RESULT $pkg FAIL $note; taint:$taints"; fi
done < /etc/boot-test/modules

say "TAINTED $(cat /proc/sys/kernel/tainted)"
say "DONE"
sync
poweroff -f
