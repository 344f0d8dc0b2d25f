# Shared by the package tests: the packages, and the refusal to touch a real installation.
PKGS=(lilalo-web lilalo-server lilalo-agent lilalo-common)
skip() { echo "skip: $*"; exit 77; }
# needs_clean_machine: root, dpkg and cpack, and no lilalo package or directory on this
# machine (the tests install, remove and purge: they must not meet a site's lilalo).
needs_clean_machine() {
    local p d
    [[ $(id -u) == 0 ]] || skip "not root (dpkg -i needs it)"
    command -v dpkg >/dev/null && command -v cpack >/dev/null || skip "no dpkg or cpack"
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'installed\|config-files' &&
            skip "$p is installed on this machine: not touching it"
    done
    for d in /etc/lilalo /var/lib/lilalo /var/spool/lilalo; do
        [[ ! -e $d ]] || skip "$d exists on this machine: not touching it"
    done
}
