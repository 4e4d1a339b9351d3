// Renders math with KaTeX, throwOnError: reads a JSON list of [tex, displayMode] on standard
// input and prints a JSON list of the failures: {index, tex, message}.
"use strict";
const path = require("path");
const katex = require(path.join(process.env.CONVGRAD_JS, "node_modules", "katex"));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const failures = [];
  JSON.parse(input).forEach(([tex, display], index) => {
    try {
      katex.renderToString(tex, { throwOnError: true, displayMode: display, strict: "ignore" });
    } catch (err) {
      failures.push({ index, tex, message: String(err.message || err) });
    }
  });
  process.stdout.write(JSON.stringify(failures));
});
