import * as tf from '@tensorflow/tfjs-core';

/**
 * torch's CrossEntropyLoss (mean over the batch), as BertForSequenceClassification uses for
 * single-label classification: −(1/n) Σᵢ log softmax(zᵢ)[yᵢ]. The labels enter as one-hot rows so the
 * gradient needs no gather (whose gradient the wasm backend cannot run).
 */
export function crossEntropy(logits: tf.Tensor2D, codes: Int32Array): tf.Scalar {
  const oneHot = tf.oneHot(tf.tensor1d(codes, 'int32'), logits.shape[1]);
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

/** torch's MSELoss (mean over every element), as …ForSequenceClassification uses for regression. */
export function meanSquaredError(predictions: tf.Tensor2D, targets: Float32Array): tf.Scalar {
  return tf.mean(tf.squaredDifference(predictions, tf.tensor2d(targets, predictions.shape))) as tf.Scalar;
}
