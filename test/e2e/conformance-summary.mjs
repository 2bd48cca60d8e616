// Summarizes a conformance run from its output directory (-o DIR): one line
// per scenario, judged the way the suite's --expected-failures does (a
// FAILURE or a WARNING check fails a scenario), against the baseline.
//
//   node conformance-summary.mjs OUTPUT_DIR BASELINE.yml
//
// Last line: "conformance: P passed, F failed, X expected failures".
// Exit 0 when every failure is expected and no expected failure passed.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [dir, baselineFile] = process.argv.slice(2);

// The baseline format is tiny YAML (a "server:" list); read it by hand.
const expected = new Set();
let inServer = false;
for (const line of readFileSync(baselineFile, 'utf8').split('\n')) {
	if (/^\S/.test(line)) inServer = /^server:\s*$/.test(line);
	const m = inServer && line.match(/^\s+-\s+([\w./-]+)\s*$/);
	if (m) expected.add(m[1]);
}

const runs = new Map();
for (const name of existsSync(dir) ? readdirSync(dir) : []) {
	const m = name.match(/^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/);
	const file = join(dir, name, 'checks.json');
	if (!m || !existsSync(file)) continue;
	runs.set(m[1], JSON.parse(readFileSync(file, 'utf8')));
}

let passed = 0;
let failed = 0;
let xfailed = 0;
const problems = [];
for (const [scenario, checks] of [...runs].sort()) {
	const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
	const isExpected = expected.has(scenario);
	let verdict;
	if (bad.length === 0 && !isExpected) {
		passed++;
		verdict = 'ok';
	} else if (bad.length > 0 && isExpected) {
		xfailed++;
		verdict = 'expected failure';
	} else if (bad.length === 0) {
		failed++;
		verdict = 'FAILED (passes, but is listed as an expected failure: stale baseline)';
	} else {
		failed++;
		verdict = 'FAILED';
	}
	console.log(`${verdict === 'ok' ? 'ok  ' : verdict === 'expected failure' ? 'xfail' : 'FAIL'} ${scenario}`);
	if (verdict.startsWith('FAILED')) {
		for (const c of bad) {
			problems.push(`  ${scenario}: ${c.status} ${c.name}: ${c.errorMessage ?? c.description}`);
		}
	}
}
for (const s of expected) {
	if (!runs.has(s)) {
		failed++;
		problems.push(`  ${s}: listed as an expected failure, but did not run`);
	}
}
if (runs.size === 0) {
	failed++;
	problems.push(`  no scenario results in ${dir}`);
}
if (problems.length) console.log(`\nconformance problems:\n${problems.join('\n')}`);
console.log(`conformance: ${passed} passed, ${failed} failed, ${xfailed} expected failures`);
process.exit(failed === 0 ? 0 : 1);
