// Compile the test contracts (contracts/*.sol) with solc from npm (offline: the compiler is the
// package's own wasm build) and print {"Name":{"abi":[..],"bin":"<hex>"},..} on stdout.
// Usage: node compile.js CONTRACTS_DIR   (run with NODE_PATH pointing at the installed modules)
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');
const dir = process.argv[2];
const sources = {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.sol')).sort()) {
  sources[f] = { content: fs.readFileSync(path.join(dir, f), 'utf8') };
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    evmVersion: 'paris',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length) {
  for (const e of errors) process.stderr.write(e.formattedMessage + '\n');
  process.exit(1);
}
const result = {};
for (const file of Object.keys(out.contracts)) {
  for (const name of Object.keys(out.contracts[file])) {
    const c = out.contracts[file][name];
    result[name] = { abi: c.abi, bin: c.evm.bytecode.object };
  }
}
process.stdout.write(JSON.stringify(result));
