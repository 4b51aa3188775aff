// Flatten C,H,W to one feature vector per image. Activations are stored N,C,H,W row-major, which is
// already PyTorch's torch.flatten(x, 1) order, so the pooled buffer is read as [N, C*H*W] as it is; this
// file exists to say so and to name the size.

export function flattenedSize(channels: number, size: number): number {
  return channels * size * size;
}
