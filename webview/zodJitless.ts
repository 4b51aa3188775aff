// Imported first by main.ts, before any schema exists: the page's CSP has no 'unsafe-eval', so zod must
// neither compile validators with `new Function` nor probe whether it may (zod checks when a schema is
// built, and a strict CSP reports the probe as a violation even though zod catches the error).
import { config } from 'zod';

performance.mark('adam:script-start'); // bench/page.mjs: the bundle began to run
config({ jitless: true });
