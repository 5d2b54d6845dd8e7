# apt-contrib.sh — sourced by scripts/fetch-debian-modules.sh and scripts/lib/boot-zfs.sh.
#
# download_contrib PKG[=VERSION] DIR APT_DIR: `apt-get download` from the contrib
# component of the archive this machine already uses for Debian's main component,
# through a private sources list and package lists under APT_DIR: the host's apt
# configuration and lists are left as they are (a default Debian 12 machine lists
# no contrib). The lists are fetched once per APT_DIR. Prints apt's output and
# returns 1 on failure.
download_contrib() {
    local pkg=$1 dir=$2 apt_dir=$3 uri suite log
    read -r uri suite < <(apt-cache policy | awk '$2 ~ /^[a-z]+:\/\// && $3 ~ /\/main$/ && $3 !~ /-/ {
        sub(/\/main$/, "", $3); print $2, $3; exit }')
    if [[ -z ${uri:-} || -z ${suite:-} ]]; then
        echo "$pkg: no Debian archive with a main component in apt's sources" >&2; return 1
    fi
    mkdir -p "$apt_dir/lists/partial"
    printf 'deb %s %s contrib\n' "$uri" "$suite" > "$apt_dir/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
                -o "Dir::State::Lists=$apt_dir/lists" -o Debug::NoLocking=1)
    if ! compgen -G "$apt_dir/lists/*contrib*Packages*" >/dev/null; then
        apt-get "${opts[@]}" update -qq >&2 || { echo "$pkg: apt-get update of $uri $suite contrib failed" >&2; return 1; }
    fi
    log=$(cd "$dir" && apt-get "${opts[@]}" download "$pkg" 2>&1) || { printf '%s\n' "$log" >&2; return 1; }
}
