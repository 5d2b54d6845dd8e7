# link_kernel KERNEL MODULES_DIR: MODULES_DIR/KERNEL as a scratch install tree
# shows it (the host's /lib/modules/KERNEL/build and, where the headers
# package has one, source, linked; an empty modules.dep). zfs's configure
# takes its sources from .../source when it exists (Debian's -common headers)
# and fails without them; the sandbox shows both (HeaderTrees).
link_kernel() {
  local k=$1 dir=$2/$1 l
  mkdir -p "$dir"
  for l in build source; do
    if [[ -L /lib/modules/$k/$l || -d /lib/modules/$k/$l ]]; then ln -sfn "/lib/modules/$k/$l" "$dir/$l"; fi
  done
  : > "$dir/modules.dep"
}
