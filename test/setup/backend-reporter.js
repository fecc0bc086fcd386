// Counts passed and failed tests per backend (jest's --json output drops the project name), so
// `npm test` can fail when one backend's suite did not run at all.
'use strict';
const fs = require('node:fs');

class BackendReporter {
  constructor() {
    this.counts = {};
  }

  onTestResult(test, result) {
    const name = test.context.config.displayName?.name ?? 'default';
    const c = (this.counts[name] ??= { passed: 0, failed: 0, skipped: 0, assertions: 0 });
    c.passed += result.numPassingTests;
    c.failed += result.numFailingTests + (result.testExecError ? 1 : 0);
    c.skipped += result.numPendingTests + result.numTodoTests;
    // Passed expect calls: the suite's size, which moving tests around must not shrink.
    for (const t of result.testResults) c.assertions += t.numPassingAsserts ?? 0;
  }

  onRunComplete() {
    if (process.env.CTL_TEST_COUNTS_FILE) fs.writeFileSync(process.env.CTL_TEST_COUNTS_FILE, JSON.stringify(this.counts));
  }
}

module.exports = BackendReporter;
