// Softmax cross-entropy of the logits, and the predicted class.
// @ts-ignore: decorator
@inline export function argmax10(lg: usize): i32 {
  let best = load<f32>(lg);
  let k = 0;
  for (let j = 1; j < 10; j++) {
    const v = load<f32>(lg + <usize>j * 4);
    if (v > best) {
      best = v;
      k = j;
    }
  }
  return k;
}

// cross-entropy of 10 logits against label y (f64 arithmetic); if dl != 0 writes
// (softmax - onehot) * scale to dl[0..9] (|values| < 1e-20 flushed to 0) and zeros to dl[10..15].
export function crossEntropy(lg: usize, y: i32, dl: usize, scale: f64): f64 {
  let mx = load<f32>(lg);
  for (let j = 1; j < 10; j++) mx = max(mx, load<f32>(lg + <usize>j * 4));
  let sum: f64 = 0;
  for (let j = 0; j < 10; j++) sum += Math.exp(<f64>(load<f32>(lg + <usize>j * 4) - mx));
  const lse = Math.log(sum);
  if (dl) {
    const inv = 1.0 / sum;
    for (let j = 0; j < 10; j++) {
      const p = Math.exp(<f64>(load<f32>(lg + <usize>j * 4) - mx)) * inv;
      const d = (p - (j == y ? 1.0 : 0.0)) * scale;
      // a confident net gives softmax values far below float32's normal range; flush them (and anything
      // too small to matter) so that no subnormal float arises in the backward kernels: WebAssembly cannot
      // set flush-to-zero and subnormal arithmetic is very slow
      store<f32>(dl + <usize>j * 4, Math.abs(d) < 1e-20 ? <f32>0 : <f32>d);
    }
    for (let j = 10; j < 16; j++) store<f32>(dl + <usize>j * 4, 0);
  }
  return lse - <f64>(load<f32>(lg + <usize>y * 4) - mx);
}
