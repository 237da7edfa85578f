// Validate a glTF 2.0 file (.glb or .gltf) with the Khronos glTF Validator; print its JSON report to stdout.
//
//     node tests/js/validate_gltf.mjs FILE.glb
//
// Exit code 0 when the report has no errors, 1 when it has some, 2 on a usage or read failure.
// Install the validator first: npm ci --prefix tests/js (make test does it).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { validateBytes } from "gltf-validator";

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  process.stderr.write("usage: node tests/js/validate_gltf.mjs FILE.glb\n");
  process.exit(2);
}
try {
  const bytes = new Uint8Array(await readFile(file));
  const report = await validateBytes(bytes, {
    uri: path.basename(file),
    maxIssues: 0, // report every issue
    externalResourceFunction: (uri) => readFile(path.resolve(path.dirname(file), decodeURIComponent(uri))),
  });
  process.stdout.write(JSON.stringify(report, null, 1) + "\n");
  process.exit(report.issues.numErrors === 0 ? 0 : 1);
} catch (err) {
  process.stderr.write(`error: cannot validate ${file}: ${err?.message ?? err}\n`);
  process.exit(2);
}
