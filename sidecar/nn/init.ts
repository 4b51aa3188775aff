// PyTorch's default initialisation for Conv2d and Linear (reset_parameters): weights kaiming_uniform_ with
// a = sqrt(5), i.e. bound = gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + a^2)) = 1/sqrt(fan_in)
// ... which simplifies to U(-1/sqrt(fan_in), 1/sqrt(fan_in)); biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
// Drawn from our seeded RNG (PyTorch's own generator is not reproduced; the distribution is).
import { Rng } from '../rng';
import { PARAMETERS } from './spec';

export function initParameters(params: Float32Array, seed: number): void {
  const rng = new Rng(seed ^ 0x5eed1234);
  for (const p of PARAMETERS) {
    const a = Math.sqrt(5);
    const gain = Math.sqrt(2 / (1 + a * a));
    const bound = p.name.endsWith('.weight') ? gain * Math.sqrt(3 / p.fanIn) : 1 / Math.sqrt(p.fanIn);
    for (let i = 0; i < p.size; i++) params[p.offset + i] = rng.uniform(-bound, bound);
  }
}
