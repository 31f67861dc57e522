import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PyDict, PyFloat, PyTuple, formatPythonLiteral, parsePythonLiteral, pythonFloatRepr, pythonStringRepr, PythonLiteralError,
} from '../../../../src/domain/backup/python-literal.js';

// Expected texts produced by CPython 3.11 repr() (/usr/bin/python3 on the build machine).
const STRINGS: Array<[string, string]> = [
  ['plain', "'plain'"], ["it's", `"it's"`], ['say "hi"', `'say "hi"'`], [`both ' and "`, `'both \\' and "'`],
  ['tab\tnl\ncr\r', "'tab\\tnl\\ncr\\r'"], ['bs\\x', "'bs\\\\x'"], ['\u0000\u001f\u007f', "'\\x00\\x1f\\x7f'"],
  ['é ü ß', "'é ü ß'"], ['\u0085\u00a0\u00ad', "'\\x85\\xa0\\xad'"], ['\u2028\u200b', "'\\u2028\\u200b'"],
  ['\u{1F600}', "'\u{1F600}'"], ['\u{E0001}', "'\\U000e0001'"], ['中文', "'中文'"],
];
const FLOATS: Array<[number, string]> = [
  [0.0, '0.0'], [1.0, '1.0'], [-2.5, '-2.5'], [4.978024, '4.978024'], [1e16, '1e+16'], [1e15, '1000000000000000.0'],
  [1.2345678901234568e17, '1.2345678901234568e+17'], [1e-5, '1e-05'], [0.0001, '0.0001'], [1.5e-10, '1.5e-10'],
  [1e22, '1e+22'], [0.1 + 0.2, '0.30000000000000004'], [100.0, '100.0'], [2.58507, '2.58507'], [-0.0, '-0.0'],
];

test('str repr matches CPython, and parses back', () => {
  for (const [s, repr] of STRINGS) {
    assert.equal(pythonStringRepr(s), repr, JSON.stringify(s));
    assert.equal(parsePythonLiteral(repr), s);
  }
});

test('float repr matches CPython, and parses back as PyFloat', () => {
  for (const [f, repr] of FLOATS) {
    assert.equal(pythonFloatRepr(f), repr);
    const back = parsePythonLiteral(repr);
    assert.ok(back instanceof PyFloat);
    assert.ok(Object.is(back.value, f));
  }
});

test('containers round-trip byte for byte', () => {
  const texts = [
    "{'total_time': 4.978024, 'number_of_workers': 2, 'analysis_time': 0, 'analysis_time_per_item': {'16384': 0, 'data': 0}, 'copy_time': 0.0}",
    "[('ts1', 16384, '/srv/pg/ts1'), ('ts 2', 16385, \"/srv/o'k\")]",
    '()', '(1,)', '[]', '{}', 'None', 'True', 'False', '-12', '123456789012345678901234567890',
    "{'provider': 'aws', 'snapshots': [{'mount': {'mount_options': 'rw', 'mount_point': '/opt'}}]}",
  ];
  for (const t of texts) assert.equal(formatPythonLiteral(parsePythonLiteral(t)), t);
});

test('parser accepts what ast.literal_eval accepts', () => {
  assert.equal(parsePythonLiteral("'a' \"b\"  'c'"), 'abc');
  assert.equal(parsePythonLiteral("u'x'"), 'x');
  assert.equal(parsePythonLiteral("r'a\\nb'"), 'a\\nb');
  assert.equal(parsePythonLiteral("'\\101\\x41\\u0041\\U00000041'"), 'AAAA');
  assert.equal(parsePythonLiteral("'''multi\nline'''"), 'multi\nline');
  assert.equal(parsePythonLiteral('0x1F'), 31);
  assert.equal(parsePythonLiteral('1_000'), 1000);
  assert.equal(parsePythonLiteral('(5)'), 5);
  assert.deepEqual(parsePythonLiteral(' [ 1 ,\n 2 , ] '), [1, 2]);
  const d = parsePythonLiteral("{'a': 1, 2: 'b', 'a': 3}");
  assert.ok(d instanceof PyDict);
  assert.equal(d.get('a'), 3);
  assert.equal(d.get(2), 'b');
  assert.equal(d.entries.length, 2);
  const t = parsePythonLiteral("('x', 1)");
  assert.ok(t instanceof PyTuple);
  assert.deepEqual(t.items, ['x', 1]);
  assert.equal(typeof parsePythonLiteral('9007199254740993'), 'bigint');
});

test('parser rejects non-literals with a position', () => {
  for (const bad of ["'open", '[1, 2', 'os.system', "b'x'", '{[1]: 2}', '1 2', "f'{x}'", '', '00012']) {
    assert.throws(() => parsePythonLiteral(bad), PythonLiteralError, bad);
  }
});

test('writer: integers, floats, nested', () => {
  assert.equal(formatPythonLiteral([1, 2.5, new PyFloat(3), null, true, 'x', new PyTuple(['a']), 10n]), "[1, 2.5, 3.0, None, True, 'x', ('a',), 10]");
});
