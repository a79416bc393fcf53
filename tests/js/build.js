// Transpiles open-remote-ssh's TypeScript sources (src/**/*.ts of the checkout given) into OUT (in the cache
// directory whose node_modules holds typescript and the dependencies of tests/js/package.json), one CommonJS
// file per source, with the compiler options of its own tsconfig.json (target ES2020, CommonJS,
// esModuleInterop).  Types are not checked: we run its code as its bundle would, we do not build it.
//
// open-remote-ssh: https://github.com/jeanp413/open-remote-ssh (MIT licence), tested at commit
// 41e50958631e8bb127d4786b65ba8e35e3fb1245.  Nothing of it is kept in this repository: the checkout is
// found through $CJP_OPEN_REMOTE_SSH and the output goes to a cache directory the tests manage.
//
//   node build.js CHECKOUT OUT
'use strict';
const fs = require('fs');
const path = require('path');

const [checkout, out] = process.argv.slice(2);
if (!checkout || !out) {
    console.error('usage: node build.js CHECKOUT OUT');
    process.exit(2);
}
// typescript as installed beside OUT (the cache directory's node_modules), not beside this file
const ts = require(require.resolve('typescript', { paths: [path.resolve(out)] }));
const options = {
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.CommonJS,
    esModuleInterop: true,
    sourceMap: false,
};

function walk(dir) {
    const found = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
            found.push(...walk(full));
        } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
            found.push(full);
        }
    }
    return found;
}

const src = path.join(checkout, 'src');
let count = 0;
for (const file of walk(src)) {
    const result = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file });
    const target = path.join(out, 'src', path.relative(src, file).replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, result.outputText);
    count++;
}
console.log(`transpiled ${count} files of ${src} into ${out}`);
