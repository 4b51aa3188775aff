// The system programs the tests run, found as `npm test`'s first step (scripts/setup.mjs, which mirrors these
// two lines) finds them: CHROMIUM_PATH and PYTHON choose others. That step has checked both before any test
// starts, so a test uses them without checking again.
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
