#!/usr/bin/env bash
# Prints one line of the facts that explain a difference between machines in contrib/bench's numbers: the CPU (and
# whether the text scan's AVX2 path runs), a VM or not, free page reporting (a host fault on a fresh page's first
# touch), transparent huge pages, the kernel, how large a pipe may grow, and the filesystem of /tmp (where
# control-bench.sh installs the heidictl it measures: whether its page cache takes large folios decides a quarter of
# a `heidictl status`), and DAMON's schemes (a `pageout` of cold, unmapped page cache drops an idle executable's pages,
# so its next run pages it in by faults: the slower of control-bench.sh's two states).
set -euo pipefail
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
avx2=$(grep -qw avx2 /proc/cpuinfo && echo "AVX2 (vector text scan)" || echo "no AVX2 (scalar text scan)")
virt="VM $(systemd-detect-virt --vm 2>/dev/null || true), container $(systemd-detect-virt --container 2>/dev/null || true)"
grep -qw hypervisor /proc/cpuinfo && virt+=" (CPU hypervisor flag set)"
reporting=$( [[ -r /sys/module/page_reporting/parameters/page_reporting_order ]] \
    && echo "on, order $(cat /sys/module/page_reporting/parameters/page_reporting_order)" || echo "off (no page_reporting module)")
hypervisor=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor:[[:space:]]*//p')
# virtio-balloon feature bits (a string of 0/1, bit 0 first): 1 stats, 2 deflate on OOM, 3 free page hinting,
# 4 page poisoning, 5 free page reporting. Reporting on means freed memory goes back to the host.
balloon=none
for features in /sys/bus/virtio/drivers/virtio_balloon/virtio*/features; do
    [[ -r $features ]] || continue
    bits=$(cat "$features"); balloon="bits ${bits:0:8}:"
    for named in "1 stats" "2 deflate-on-oom" "3 free-page-hinting" "4 page-poisoning" "5 free-page-reporting"; do
        [[ ${bits:${named%% *}:1} == 1 ]] && balloon+=" ${named#* }"
    done
done
# DAMON (mm/damon): each running kdamond's address space and the actions of its schemes, with their size quotas.
damon=off
for kdamond in /sys/kernel/mm/damon/admin/kdamonds/[0-9]*; do
    [[ $(cat "$kdamond/state" 2>/dev/null) == on ]] || continue
    for context in "$kdamond"/contexts/[0-9]*; do
        [[ $damon == off ]] && damon="" || damon+="; "
        damon+="$(cat "$context/operations")"
        for scheme in "$context"/schemes/[0-9]*; do
            [[ -d $scheme ]] || continue
            damon+=" $(cat "$scheme/action") (quota $(($(cat "$scheme/quotas/bytes") / 1048576)) MiB per $(cat "$scheme/quotas/reset_interval_ms") ms"
            for filter in "$scheme"/ops_filters/[0-9]* "$scheme"/filters/[0-9]*; do
                [[ -r $filter/type ]] || continue
                damon+=", $(cat "$filter/type") $( [[ $(cat "$filter/allow" 2>/dev/null) == N ]] && echo denied || echo allowed)"
            done
            damon+=")"
        done
    done
done
thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)
echo "==> CPU: ${cpu_model:-unknown}, $avx2; virtualisation: $virt${hypervisor:+, hypervisor $hypervisor};" \
    "virtio-balloon: $balloon; free page reporting: $reporting; THP: $thp; kernel $(uname -r);" \
    "pipe-max-size $(cat /proc/sys/fs/pipe-max-size) bytes; /tmp on $(findmnt -n -o FSTYPE --target /tmp 2>/dev/null || stat -f -c %T /tmp);" \
    "DAMON: $damon"
