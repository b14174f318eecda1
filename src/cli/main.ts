#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { deprecatedSourceCommand } from './attach-texts-command.js';
import { batchCommand } from './batch-command.js';
import { doctorCommand } from './doctor-command.js';
import { embedCommand } from './embed-command.js';
import { reportError } from './errors.js';
import { esmCommand } from './esm-command.js';
import { finetuneCommand } from './finetune-command.js';
import { indexCommand } from './index-command.js';
import { modelCommand } from './model-command.js';
import { rankCommand } from './rank-command.js';
import { serveCommand } from './serve-command.js';
import { workerCommand } from './worker-command.js';

const program = new Command('esmselect')
  .description('Pick the intermediate task to fine-tune on first, ranked by ESM-LogME')
  .exitOverride()
  .addCommand(rankCommand())
  .addCommand(embedCommand())
  .addCommand(esmCommand())
  .addCommand(modelCommand())
  .addCommand(doctorCommand())
  .addCommand(serveCommand())
  .addCommand(finetuneCommand())
  .addCommand(indexCommand())
  .addCommand(deprecatedSourceCommand(), { hidden: true })
  .addCommand(batchCommand())
  .addCommand(workerCommand());
for (const command of program.commands) command.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Commander has already printed its own one-line message (or the help) for these.
  if (error instanceof CommanderError) process.exitCode = error.exitCode;
  else reportError(error);
}
