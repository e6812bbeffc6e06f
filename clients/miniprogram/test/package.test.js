'use strict';
// The kit as an npm package: what `npm pack` puts in it, the package.json fields that
// bundlers, TypeScript and WeChat DevTools' "build npm" read, and that each entry point
// loads from where those tools put the package. No network: `npm pack --dry-run` only.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const Module = require('node:module');
const os = require('node:os');
const path = require('node:path');

const PACKAGE_DIR = path.join(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8'));

// The files of the published package, as npm itself lists them.
function packedFiles() {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-npm-cache-'));
  try {
    const env = {
      ...process.env,
      npm_config_cache: cache,
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_loglevel: 'error',
    };
    const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PACKAGE_DIR, env, encoding: 'utf8' });
    assert.ifError(result.error);
    assert.equal(result.status, 0, `npm pack --dry-run failed:\n${result.stderr}`);
    const [pack] = JSON.parse(result.stdout);
    return pack.files.map((file) => file.path).sort();
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
}

const files = packedFiles();

// Copies the packed files of `from` (a directory inside the package) to `to`.
function copyPacked(from, to) {
  const prefix = from === '.' ? '' : `${from.replace(/\/+$/, '')}/`;
  for (const file of files.filter((name) => name.startsWith(prefix))) {
    const target = path.join(to, file.slice(prefix.length));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(PACKAGE_DIR, file), target);
  }
}

function withTempDir(run) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-package-'));
  try {
    return run(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('npm pack ships the client, the uni-app and Taro adapters with their types, README and package.json, and no tests', () => {
  assert.deepEqual(files, [
    'README.md',
    'index.js',
    'package.json',
    'taro.d.ts',
    'taro.js',
    'uni.d.ts',
    'uni.js',
    'wxlogin.d.ts',
    'wxlogin.js',
  ]);
});

test('package.json: publishable, CommonJS main with types, a files list and the miniprogram field for DevTools', () => {
  assert.equal(manifest.name, 'wxlogin-miniprogram');
  assert.notEqual(manifest.private, true, 'a private package cannot be published');
  assert.match(manifest.version, /^\d+\.\d+\.\d+/);
  assert.equal(typeof manifest.license, 'string');
  assert.ok(Array.isArray(manifest.files) && manifest.files.length > 0);
  assert.notEqual(manifest.type, 'module', 'mini programs load CommonJS');
  assert.equal(manifest.main, 'wxlogin.js');
  assert.equal(manifest.types, 'wxlogin.d.ts');
  assert.ok(files.includes(manifest.main) && files.includes(manifest.types));
  assert.equal(typeof manifest.miniprogram, 'string');
  assert.deepEqual(manifest.dependencies || {}, {}, 'nothing for DevTools to build besides this package');
});

test('"build npm": the miniprogram directory copied to miniprogram_npm answers require("wxlogin-miniprogram") with index.js', () => {
  withTempDir((project) => {
    // What DevTools does for a package with a miniprogram field: copy that directory.
    const copied = path.join(project, 'miniprogram_npm', manifest.name);
    copyPacked(manifest.miniprogram, copied);
    // A package name alone loads the package's index.js in a mini program.
    const entry = path.join(copied, 'index.js');
    assert.ok(fs.existsSync(entry), 'index.js is what a mini program loads for the bare package name');

    // Every require() of the copied scripts stays inside the copy.
    for (const script of fs.readdirSync(copied).filter((name) => name.endsWith('.js'))) {
      // Only code, not comments, counts.
      const source = fs
        .readFileSync(path.join(copied, script), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      for (const [, target] of source.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        assert.match(target, /^\.\//, `${script} requires "${target}", which a mini program cannot resolve`);
        assert.ok(fs.existsSync(path.join(copied, target)), `${script} requires ${target}, missing from the copy`);
      }
    }

    const loaded = Module.createRequire(path.join(project, 'app.js'))(entry);
    assert.equal(typeof loaded.createClient, 'function');
    const client = loaded.createClient({ baseUrl: 'https://login.example.com', wx: {} });
    assert.equal(typeof client.deleteAccount, 'function');
  });
});

test('from node_modules, the package and its /uni and /taro entries load, each with a .d.ts beside it', () => {
  withTempDir((project) => {
    copyPacked('.', path.join(project, 'node_modules', manifest.name));
    const load = Module.createRequire(path.join(project, 'app.js'));
    for (const entry of [manifest.name, `${manifest.name}/uni`, `${manifest.name}/taro`]) {
      const resolved = load.resolve(entry);
      assert.ok(resolved.startsWith(path.join(project, 'node_modules')), `${entry} resolves inside node_modules`);
      assert.equal(typeof load(entry).createClient, 'function', `${entry} exports createClient`);
      // TypeScript finds the types of a subpath in the .d.ts beside its .js.
      const declarations = resolved.replace(/\.js$/, '.d.ts');
      assert.ok(fs.existsSync(declarations), `${entry} has no ${path.basename(declarations)}`);
      assert.match(fs.readFileSync(declarations, 'utf8'), /export function createClient\(/);
    }
  });
});

test('the adapters\' declarations use only types that wxlogin.d.ts exports', () => {
  const core = fs.readFileSync(path.join(PACKAGE_DIR, 'wxlogin.d.ts'), 'utf8');
  const exported = new Set([...core.matchAll(/export (?:interface|type|function) (\w+)/g)].map((match) => match[1]));
  for (const adapter of ['uni.d.ts', 'taro.d.ts']) {
    const source = fs.readFileSync(path.join(PACKAGE_DIR, adapter), 'utf8');
    for (const [, names] of source.matchAll(/(?:import|export) type \{([^}]+)\} from '\.\/wxlogin'/g)) {
      for (const name of names.split(',').map((part) => part.trim()).filter(Boolean)) {
        assert.ok(exported.has(name), `${adapter} imports ${name}, which wxlogin.d.ts does not export`);
      }
    }
  }
});
