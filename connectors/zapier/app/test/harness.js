'use strict';

// Runs one step of the app in Zapier's own runtime and prints the outcome as one JSON line.
// Hand-written (not generated); tests/connectors/apps/test_zapier_app.py drives it against a
// real gateway on loopback. Usage:
//
//   node test/harness.js validate
//   echo '{"method": "authentication.test", "bundle": {...}}' | node test/harness.js run
//
// `validate` is what `zapier validate` checks offline: core's own validate command on the
// compiled app, and zapier-platform-schema's validateAppDefinition on the app's definition.
// `run` calls createAppTester(App) with the app's function at a path such as
// `triggers.task_completed.operation.perform` (as `zapier test` does) and prints
// {ok: true, result} or {ok: false, error: {name, message}}. With NODE_ENV=test core's output
// checks (trigger results are arrays of objects with an id, ...) throw, as under `zapier test`.

const zapier = require('zapier-platform-core');
const schema = require('zapier-platform-schema');

const App = require('..');

const readStdin = async () => {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
};

const validate = async () => {
  const handler = zapier.createAppHandler(App);
  const core = await handler({ command: 'validate' });
  const definition = await handler({ command: 'definition' });
  const schemaErrors = schema.validateAppDefinition(definition.results).errors;
  return {
    core: core.results,
    schema: schemaErrors.map((e) => `${e.property}: ${e.message}`),
    definition: definition.results,
  };
};

const run = async () => {
  const { method, bundle } = await readStdin();
  const func = method.split('.').reduce((node, key) => node && node[key], App);
  if (typeof func !== 'function') {
    throw new Error(`no function at ${method}`);
  }
  const appTester = zapier.createAppTester(App);
  return appTester(func, bundle || {});
};

const steps = { validate, run };

const main = async () => {
  const step = steps[process.argv[2]];
  if (!step) {
    throw new Error(`unknown step ${process.argv[2]}; one of ${Object.keys(steps)}`);
  }
  try {
    const result = await step();
    process.stdout.write(`${JSON.stringify({ ok: true, result })}\n`);
    if (step === validate && (result.core.length || result.schema.length)) {
      process.exitCode = 1; // `npm test` fails on an invalid app
    }
  } catch (err) {
    const error = { name: err.name, message: err.message };
    process.stdout.write(`${JSON.stringify({ ok: false, error })}\n`);
  }
};

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(2);
});
