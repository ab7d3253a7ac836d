// Prints vitest's JSON report as one closing line: "tests: N passed, N failed, N skipped".
// Exits 1 when no test ran, so an empty run can never pass as green.
import { readFileSync } from "node:fs"

const report = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as {
  numPassedTests: number
  numFailedTests: number
  numPendingTests: number
  numTodoTests: number
}
const skipped = report.numPendingTests + report.numTodoTests
console.log(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`)
if (report.numPassedTests + report.numFailedTests === 0) {
  console.error("summary: no test ran")
  process.exit(1)
}
