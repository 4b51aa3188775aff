#!/usr/bin/env node
'use strict';
// The command line is a thin plain-JavaScript entry so that `node bin/adam-trainer.js` and the npm bin
// shim run the same thing; all logic is in the bundled sidecar.
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) {
  process.stderr.write('adam-trainer: not built yet; run `npm run build` in ' + path.join(__dirname, '..') + '\n');
  process.exit(1);
}
require(cli).main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write('adam-trainer: ' + (err && err.stack || err) + '\n'); process.exitCode = 1; },
);
