// A minimal `vscode` module: exactly what open-remote-ssh's resolver path uses (authResolver.ts,
// ssh/sshConfig.ts, serverConfig.ts, common/logger.ts), nothing that decides how it reaches a host.
// open-remote-ssh: https://github.com/jeanp413/open-remote-ssh (MIT licence); see tests/js/drive.js.
//
// Settings come from `configure(...)` (remote.SSH.configFile and friends, as a user sets them in the
// editor); what the editor would show (the error dialog, prompts, its output channel) is recorded in
// `shown` so the test can read it.  A prompt for a password or passphrase is answered with nothing, as a
// user who has none would: the key must come from the IdentityFile.
'use strict';

const state = { settings: {}, appRoot: '', version: '1.99.0', logs: {}, shown: [] };

function configure({ settings, appRoot, version }) {
    state.settings = settings || {};
    state.appRoot = appRoot || '';
    if (version) {
        state.version = version;
    }
    module.exports.version = state.version;
    module.exports.env.appRoot = state.appRoot;
}

class Disposable {
    constructor(fn) { this.fn = fn; }
    dispose() { if (this.fn) { this.fn(); this.fn = undefined; } }
}

const cancellation = { isCancellationRequested: false, onCancellationRequested: () => new Disposable() };

class ResolvedAuthority {
    constructor(host, port, connectionToken) {
        this.host = host;
        this.port = port;
        this.connectionToken = connectionToken;
    }
}

class RemoteAuthorityResolverError extends Error {
    constructor(message, code) {
        super(message);
        this.code = code;
    }
    static NotAvailable(message, handled) {
        const err = new RemoteAuthorityResolverError(message, 'NotAvailable');
        err.handled = handled;
        return err;
    }
    static TemporarilyNotAvailable(message) {
        return new RemoteAuthorityResolverError(message, 'TemporarilyNotAvailable');
    }
}

module.exports = {
    configure,
    state,
    version: state.version,
    env: { appRoot: '', appName: 'cjp-harness', remoteName: undefined },
    ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
    Disposable,
    ResolvedAuthority,
    RemoteAuthorityResolverError,
    workspace: {
        getConfiguration(section) {
            return {
                get(key, fallback) {
                    const name = section ? `${section}.${key}` : key;
                    return Object.prototype.hasOwnProperty.call(state.settings, name) ? state.settings[name] : fallback;
                },
            };
        },
        registerResourceLabelFormatter() { return new Disposable(); },
    },
    window: {
        withProgress(_options, task) { return Promise.resolve(task({ report() {} }, cancellation)); },
        createOutputChannel(name) {
            const lines = (state.logs[name] = state.logs[name] || []);
            return {
                name,
                appendLine(line) { lines.push(line); },
                append(text) { lines.push(text); },
                show() {},
                dispose() {},
            };
        },
        showErrorMessage(message, ...rest) {
            state.shown.push({ kind: 'error', message, modal: Boolean(rest[0] && rest[0].modal) });
            return Promise.resolve(undefined);
        },
        showInformationMessage(message) {
            state.shown.push({ kind: 'info', message });
            return Promise.resolve(undefined);
        },
        showInputBox(options) {
            state.shown.push({ kind: 'prompt', message: (options && options.title) || '' });
            return Promise.resolve(undefined);
        },
    },
    commands: { executeCommand() { return Promise.resolve(undefined); } },
};
