// Summarizes a conformance run from its output directory (-o DIR): one line
// per scenario, judged strictly -- a FAILURE or a WARNING check fails a
// scenario (SKIPPED and INFO do not) -- with no expected failures.
//
//   node conformance-summary.mjs OUTPUT_DIR SPEC SCENARIO...
//
// Every named scenario must have run.  Last line:
// "conformance SPEC: P passed, F failed".  Exit 0 when nothing failed.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [dir, spec, ...wanted] = process.argv.slice(2);

const runs = new Map();
for (const name of existsSync(dir) ? readdirSync(dir) : []) {
	const m = name.match(/^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/);
	const file = join(dir, name, 'checks.json');
	if (!m || !existsSync(file)) continue;
	runs.set(m[1], JSON.parse(readFileSync(file, 'utf8')));
}

let passed = 0;
let failed = 0;
const problems = [];
for (const scenario of wanted.length ? wanted : [...runs.keys()].sort()) {
	const checks = runs.get(scenario);
	if (!checks) {
		failed++;
		console.log(`FAIL ${scenario} (no results)`);
		problems.push(`  ${scenario}: did not run (no checks.json)`);
		continue;
	}
	const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
	const skipped = checks.filter((c) => c.status === 'SKIPPED').length;
	if (bad.length === 0) {
		passed++;
		console.log(`ok   ${scenario} (${checks.length} checks${skipped ? `, ${skipped} skipped` : ''})`);
	} else {
		failed++;
		console.log(`FAIL ${scenario}`);
		for (const c of bad) {
			problems.push(`  ${scenario}: ${c.status} ${c.id ?? c.name}: ${c.errorMessage ?? c.description}`);
		}
	}
}
if (problems.length) console.log(`\nconformance problems (${spec}):\n${problems.join('\n')}`);
console.log(`conformance ${spec}: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
