import { Command } from 'commander';
import { downloadProgress } from './download-progress.js';

interface PullFlags {
  revision?: string;
  onnxRepo?: string;
  weights?: boolean;
}

function pullCommand(): Command {
  return new Command('pull')
    .description(
      'download a base model from the Hugging Face Hub into the models directory, ready to embed offline (config, tokenizer, onnx/model.onnx, BERT pooler)',
    )
    .argument('<name>', 'the model as the ESMs name it (their base_model_name), e.g. bert-base-multilingual-uncased; renamed repos are followed')
    .option('--revision <rev>', 'a branch, tag or commit of the model (default: main)')
    .option(
      '--onnx-repo <id>',
      'where onnx/model.onnx comes from when the model has no ONNX export: a conversion of the same checkpoint, e.g. Xenova/bert-base-uncased',
    )
    .option('--weights', 'also download the whole model.safetensors (fine-tuning and esm train --tuned-model need it)')
    .action(async (name: string, flags: PullFlags) => {
      const progress = downloadProgress();
      const { pullModel } = await import('../embed/pull-model.js');
      try {
        const pulled = await pullModel(name, {
          revision: flags.revision,
          onnxRepo: flags.onnxRepo,
          weights: flags.weights,
          onProgress: progress.onProgress,
          onNote: (line) => {
            progress.stop();
            process.stderr.write(`esmselect: note: ${line}\n`);
          },
        });
        progress.stop();
        const { record } = pulled;
        const onnx = record.onnx ? `ONNX from ${record.onnx.repo}@${record.onnx.commit.slice(0, 12)}` : 'no ONNX (TensorFlow.js encoder only)';
        const pooler = record.pooler
          ? `, BERT pooler from ${record.pooler === 'pooler.safetensors' ? 'model.safetensors by range requests' : 'model.safetensors'}`
          : '';
        const state = pulled.upToDate ? 'already up to date' : 'pulled';
        process.stdout.write(`${state}: ${name} (${record.repo}@${record.commit.slice(0, 12)}; ${onnx}${pooler}) in ${pulled.folder}\n`);
      } finally {
        progress.stop();
      }
    });
}

export function modelCommand(): Command {
  const command = new Command('model').description('base models under the models directory (ESMSELECT_MODELS_DIR, default models/)').addCommand(pullCommand());
  for (const sub of command.commands) sub.exitOverride();
  return command;
}
