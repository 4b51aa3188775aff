// Softmax cross-entropy averaged over the batch (F.cross_entropy with reduction='mean').
import type { FloatArray } from '../floatArray';

/**
 * Returns the SUM over the batch of -log softmax(logits)[label]; writes d(mean loss)/d(logits) =
 * (softmax - onehot) * scale into grad (scale is 1/batch for a whole batch). Counts correct predictions
 * into stats[0] when given.
 */
export function softmaxCrossEntropy(
  batch: number, classes: number, logits: FloatArray, labels: ArrayLike<number>, scale: number, grad: FloatArray | null,
): { lossSum: number; correct: number } {
  let lossSum = 0;
  let correct = 0;
  for (let n = 0; n < batch; n++) {
    const base = n * classes;
    let max = logits[base];
    let arg = 0;
    for (let k = 1; k < classes; k++) if (logits[base + k] > max) { max = logits[base + k]; arg = k; }
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[base + k] - max);
    const label = labels[n];
    lossSum += Math.log(sum) + max - logits[base + label];
    if (arg === label) correct++;
    if (grad) {
      for (let k = 0; k < classes; k++) grad[base + k] = (Math.exp(logits[base + k] - max) / sum - (k === label ? 1 : 0)) * scale;
    }
  }
  return { lossSum, correct };
}
