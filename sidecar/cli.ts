// adam-trainer: the command line (DESIGN.md "Command line"). Each subcommand lives in sidecar/commands/.
// Exit codes: 0 done, 1 failed run, 2 bad usage.
import { COMMANDS } from './commands/registry';
import { isUserError } from './errors';

const USAGE = `usage: adam-trainer <command> [flags]

commands:
  train             train the CIFAR-10 tutorial CNN (Adam by default); --help for flags
  compare           train optimizers over seeds and say whether one beats the other (adam,sgd over 1-10)
  serve             start the sidecar: WebSocket + dashboard on 127.0.0.1
  bench             training throughput (samples/s) by batch size and worker count
  runs              list runs in the runs folder
  export            export CHECKPOINT OUT.safetensors
  export-pytorch    export RUN_ID|CHECKPOINT OUT_DIR: the run as a PyTorch script (alone or DDP)
  predict           predict CHECKPOINT|RUN_ID IMAGE_OR_FOLDER...: top-3 classes of images
  check-reference   check the engine against PyTorch reference vectors
  lr-find           the learning-rate range test: loss against an exponentially rising lr, and a suggested lr
`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? process.stdout : process.stderr).write(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`adam-trainer: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (e) {
    if (isUserError(e)) {
      process.stderr.write(`adam-trainer ${name}: ${e.message}\n`);
      return e.code === 'bad_usage' ? 2 : 1;
    }
    throw e;
  }
}
