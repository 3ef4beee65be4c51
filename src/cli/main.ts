import type { CliIo, Command } from './command.ts';
import { EXIT } from './command.ts';
import { parseFlags } from '../config.ts';
import { serve } from './commands/serve.ts';
import { accountCreate, accountList, accountSetPassword } from './commands/account.ts';
import { computeCommands } from './commands/compute/index.ts';
import { transferCommands } from './commands/transfer/index.ts';
import { imagesCommands } from './commands/images/index.ts';
import { billingCommands } from './commands/billing/index.ts';
import { configure, configureList } from './commands/configure.ts';
import { completionCommand } from './commands/completion.ts';
import { checkKnownFlags, flagsIn } from './flags.ts';
import { UsageError } from './errors.ts';

/** Every command, by its name path. */
export const COMMANDS: Command[] = [
  configure, configureList, serve, accountCreate, accountList, accountSetPassword, ...imagesCommands, ...computeCommands, ...transferCommands, ...billingCommands,
  completionCommand(() => COMMANDS),
];

const GLOBAL_OPTIONS = [
  '  --profile NAME     use a saved profile (see `imagehouse configure`); or $IMAGEHOUSE_PROFILE',
  '  --region R         region to act in; or $IMAGEHOUSE_REGION, the profile\'s region, cn-hangzhou',
  '  --endpoint URL     service address; or $IMAGEHOUSE_ENDPOINT, the profile\'s endpoint',
  '  --access-key-id ID, --access-key-secret S   credentials; or $IMAGEHOUSE_ACCESS_KEY_ID/_SECRET, the profile\'s',
  '  --json             stable, scriptable JSON on stdout instead of tables',
  '  --help             a command\'s options and examples',
].join('\n');

/**
 * The flags a command takes: those its usage names, plus the global options. Commands that open the data
 * directory (their usage names --data) also take --database-url, as `serve` does.
 */
export function knownFlags(command: Command): string[] {
  const own = flagsIn(command.usage);
  return [...own, ...flagsIn(GLOBAL_OPTIONS), ...(own.includes('data') ? ['database-url'] : [])];
}

const EXIT_CODES = [
  '  0 ok  1 failure  2 usage  3 rejected by the service  4 not found  5 authentication  6 conflict  7 unavailable',
  '  serve: 10 port in use  11 data directory unusable  12 database unreachable  13 S3 unreachable',
].join('\n');

function help(io: CliIo): void {
  io.out('imagehouse: a cloud VM image service that speaks the Alibaba Cloud ECS API\n');
  io.out('Usage: imagehouse <command> [options]\n\nCommands:');
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  for (const c of COMMANDS) io.out(`  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  io.out(`\nGlobal options:\n${GLOBAL_OPTIONS}\n\nExit codes:\n${EXIT_CODES}`);
  io.out('\nExamples:\n  imagehouse configure\n  imagehouse image list --owner self\n  imagehouse image import ./disk.qcow2 --name base --wait');
  io.out('\nRun `imagehouse <command> --help` for a command\'s options and examples.');
}

export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const { flags, rest } = parseFlags(argv);
  const command = COMMANDS
    .filter((c) => c.path.every((w, i) => rest[i] === w))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!command) {
    help(io);
    return rest.length === 0 || flags.help ? EXIT.ok : EXIT.usage;
  }
  if (flags.help) {
    io.out(`${command.summary}\n\nUsage: ${command.usage}\n\nGlobal options:\n${GLOBAL_OPTIONS}`);
    return EXIT.ok;
  }
  try {
    checkKnownFlags(flags, knownFlags(command));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const name = command.path.join(' ');
    io.err(`${name}: ${e.message}`);
    io.err(`hint: run \`imagehouse ${name} --help\``);
    return EXIT.usage;
  }
  return command.run({ flags, rest: rest.slice(command.path.length) }, io);
}

export function defaultIo(): CliIo {
  return {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    env: process.env,
    isTTY: !!process.stdout.isTTY,
  };
}

/** The process entry (bin/imagehouse.js): a failure no command turned into an exit code is one line, not a stack trace. */
export async function runMain(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (e) {
    process.stderr.write(`imagehouse: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = EXIT.failure;
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) await runMain(process.argv.slice(2));
