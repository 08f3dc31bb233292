import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFile } from '../lib/files.ts';

describe('isFile', () => {
  test('is true for a file only: not for a directory, nor for nothing', () => {
    assert.equal(isFile('package.json'), true);
    assert.equal(isFile('spec'), false);
    assert.equal(isFile('no/such/file.js'), false);
  });
});
