// Proves the no-native CI pass really runs without the optional native packages: with
// EXPECT_NO_NATIVE=1 (set by .ci/run's second pass) fs-ext and msgpackr-extract must be absent.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const expectNoNative = process.env.EXPECT_NO_NATIVE === '1';

function resolvable(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

describe.runIf(expectNoNative)('the no-native install', () => {
  it('has neither fs-ext nor msgpackr-extract', () => {
    expect(resolvable('fs-ext')).toBe(false);
    expect(resolvable('msgpackr-extract')).toBe(false);
  });
});

describe.skipIf(expectNoNative)('the full install', () => {
  it('has fs-ext, so the flock path is the one tested in the first pass', () => {
    expect(resolvable('fs-ext')).toBe(true);
  });
});
