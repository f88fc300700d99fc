import assert from 'node:assert/strict';
import { test } from 'node:test';
import textWidth from '../../cli/text-width.ts';

test('text width: ASCII, colours, wide and zero-width characters', () => {
  assert.equal(textWidth(''), 0);
  assert.equal(textWidth('cryo dump -t PID'), 16);
  assert.equal(textWidth('\u001B[1m\u001B[31mbold red\u001B[39m\u001B[22m'), 8);
  assert.equal(textWidth('\u001B[31mx\u001B[39m', { countAnsiEscapeCodes: true }), 9); // the two ESC are controls
  assert.equal(textWidth('\u001B]8;;https://criu.org\u0007link\u001B]8;;\u0007'), 4);
  assert.equal(textWidth('日本語'), 6);
  assert.equal(textWidth('ｆｕｌｌ'), 8);
  assert.equal(textWidth('e\u0301te\u0301'), 3);
  assert.equal(textWidth('a\u200Bb'), 2);
  assert.equal(textWidth('über'), 4);
  assert.equal(textWidth('🙂 ok'), 5);
});
