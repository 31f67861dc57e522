// A node:test reporter that counts results and writes them as one JSON line to its destination (a file named
// by scripts/run-tests.mjs), which prints the run's closing `N passed, N failed, N skipped` line from it.
// Counted: tests (not suites); a suite counts as one failure only when it failed by itself (a hook, a load
// error), not because a test inside it failed. Cancelled tests (their parent failed) count as failed. Skipped
// tests are listed with their reason (run-tests fails a CI run that skipped any).
export default async function* summary(source) {
  const counts = { passed: 0, failed: 0, skipped: 0, failures: [], skips: [] };
  const names = []; // suite names by nesting level, for the failure list
  for await (const event of source) {
    const data = event.data ?? {};
    if (event.type === 'test:start') names[data.nesting] = data.name;
    const isSuite = data.details?.type === 'suite';
    if (event.type === 'test:pass') {
      if (isSuite) continue;
      if (data.skip !== undefined || data.todo !== undefined) {
        counts.skipped++;
        const why = typeof data.skip === 'string' ? data.skip : typeof data.todo === 'string' ? `todo: ${data.todo}` : 'skipped';
        if (counts.skips.length < 50) counts.skips.push(`${data.file ? `${data.file}: ` : ''}${[...names.slice(0, data.nesting), data.name].join(' > ')} (${why})`);
      } else counts.passed++;
    } else if (event.type === 'test:fail') {
      const why = data.details?.error?.failureType;
      if (isSuite && why === 'subtestsFailed') continue;
      counts.failed++;
      if (counts.failures.length < 50) counts.failures.push(`${data.file ? `${data.file}: ` : ''}${[...names.slice(0, data.nesting), data.name].join(' > ')}${why ? ` (${why})` : ''}`);
    }
  }
  yield `${JSON.stringify(counts)}\n`;
}
